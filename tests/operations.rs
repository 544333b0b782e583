//! The operator's page as an operator sees it, and the public verification page of a signed
//! result as a bank clerk sees it: rendered by headless Chromium (Debian's `chromium`,
//! installed by the test command), checked in their DOM and in screenshots.

mod support;

use anyhow::{Context, Result, ensure};
use newborn_embedded::{Database, SqliteQueue};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::{TestService, status};

fn chromium() -> Result<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .context("Debian's chromium is not installed: ./scripts/test.sh installs it (apt-get install chromium)")
}

/// Runs headless Chromium on `url` with `args`; returns its standard output.
fn headless(profile: &Path, url: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(chromium()?)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,1500",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()?;
    ensure!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A fresh screenshot of `url` in the test's temporary directory, named `name`.
fn screenshot(profile: &Path, url: &str, name: &str) -> Result<PathBuf> {
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&shot);
    headless(profile, url, &[&format!("--screenshot={}", shot.display())])?;
    Ok(shot)
}

/// Pixels of the screenshot that are not (near) white, and those of the page's overdue red.
fn ink(png_file: &Path) -> Result<(u32, u32, usize, usize)> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_file)?));
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().context("png size")?];
    let info = reader.next_frame(&mut buf)?;
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let (mut dark, mut red) = (0, 0);
    for px in pixels.chunks(channels) {
        let (r, g, b) = (px[0], px[1], px[2]);
        if r < 200 || g < 200 || b < 200 {
            dark += 1;
        }
        // #b3261e, the overdue colour (anti-aliased text: allow a margin).
        if r > 140 && g < 90 && b < 90 {
            red += 1;
        }
    }
    Ok((info.width, info.height, dark, red))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_page_shows_overdue_cases_rates_durations_and_dead_letters() -> Result<()> {
    let t = TestService::start().await?;
    // One application finishes on time after the police asked for a supplement that took the
    // parent an hour (wall time, not working time); another is held at the police until overdue.
    let done = t
        .submit("mum-ok", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.script(&done, "police", &["supplement", "approve"])
        .await?;
    t.drive_until("mum-ok", &done, "the police's supplement request", |v| {
        status(v, "police") == "awaiting_applicant"
    })
    .await?;
    t.advance(3600).await?;
    t.drive("mum-ok", &done).await?;
    t.client
        .json(
            t.client
                .post("mum-ok", &format!("/applications/{done}/ratings"))
                .json(&serde_json::json!({"stage": "police", "level": "dissatisfied"})),
        )
        .await?;
    t.wait_for("mum-ok", &done, "the follow-up of the bad rating", |v| {
        v["follow_ups"].as_array().map(Vec::len) == Some(1)
    })
    .await?;
    let late = t
        .submit("mum-late", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.script(&late, "police", &["hold"]).await?;
    t.drive_until("mum-late", &late, "the dispatch to the police", |v| {
        status(v, "police") == "awaiting_agency"
    })
    .await?;
    t.advance(3 * 86_400).await?;
    t.sweep().await?;
    // A poison message waits in the police dead-letter queue.
    let queue = SqliteQueue::new(Database::open(&t.dir.path().join("newborn.db"))?);
    queue
        .send(
            "police-dlq",
            r#"{"application_id":"NB-POISON","stage":"police","round":1}"#,
            Duration::ZERO,
        )
        .await
        .map_err(anyhow::Error::msg)?;
    // And a rating forward nobody could deliver waits in the evaluation stage's.
    queue
        .send(
            "evaluation-dlq",
            r#"{"task":"forward","application_id":"NB-EVAL-POISON","subject":"police"}"#,
            Duration::ZERO,
        )
        .await
        .map_err(anyhow::Error::msg)?;

    // Without the operator token the page is refused; opening it once with the token (the
    // address start-up prints) keeps the browser signed in with a SameSite=Strict cookie.
    let bare = format!("{}/operations", t.api);
    ensure!(
        newborn_http::client().get(&bare).send().await?.status() == 401,
        "the page needs the token"
    );
    let profile = tempfile::tempdir()?;
    let first = headless(
        profile.path(),
        &format!("{bare}?token={}", t.running.operator_token),
        &["--dump-dom"],
    )?;
    ensure!(
        first.contains("NB-POISON"),
        "signed in by the token: {first}"
    );
    let url = format!("{bare}?token={}", t.running.operator_token);
    let dom = headless(profile.path(), &url, &["--dump-dom"])?;
    ensure!(dom.contains(&late), "the overdue case is listed: {dom}");
    ensure!(!dom.contains(&done), "a finished case is not: {dom}");
    ensure!(dom.contains("1 超期 overdue"), "{dom}");
    ensure!(
        dom.contains("<td>hospital</td><td>3</td><td>3</td><td class=\"rate\">100 %</td>"),
        "the hospital finished both certificates and the one release on time: {dom}"
    );
    ensure!(
        dom.contains("<td>police_station</td><td>1</td><td>1</td>"),
        "the police completed once (the rating is not a completion): {dom}"
    );
    let section = |id: &str| {
        dom.split(&format!("<div id=\"{id}\">"))
            .nth(1)
            .and_then(|rest| rest.split("</div>").next())
            .unwrap_or_default()
            .to_owned()
    };
    let (working, wall) = (section("working-time"), section("wall-time"));
    ensure!(
        wall.contains(">police</text>") && wall.contains(">60.0 min</text>"),
        "the police took an hour of wall time: {wall}"
    );
    ensure!(
        working.contains(">0.0 s</text>") && !working.contains(" min<"),
        "but no working time: the wait for the parent does not count: {working}"
    );
    // The watchdog: the police hold one dispatch, past its deadline, due first; nothing is
    // undelivered. Rules: OURS-WATCHDOG.
    let watchdog = dom
        .split("<table id=\"watchdog\">")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .unwrap_or_default();
    ensure!(
        watchdog.contains(&format!(
            "<tr><td>police_station</td><td>1</td><td><span class=\"overdue\">1</span></td><td>0 (0 late)</td><td><code>{late}</code> police</td>"
        )),
        "the watchdog names the police's overdue dispatch: {watchdog}"
    );
    ensure!(dom.contains("NB-POISON"), "the dead letter is shown: {dom}");
    ensure!(
        dom.contains("<td>evaluation-dlq</td><td>1</td>") && dom.contains("NB-EVAL-POISON"),
        "every queue's dead letters are shown, the evaluation stage's too: {dom}"
    );
    ensure!(
        dom.contains("<td>notifications-dlq</td><td>0</td>"),
        "the notification queue's too: {dom}"
    );
    ensure!(
        dom.contains("<tr><td>police_station</td><td>0</td><td>0</td><td>0</td><td>1</td><td>0</td><td>0</td><td>1</td><td>0</td><td>0</td></tr>"),
        "the police's 不满意 rating is counted, with the follow-up it opened: {dom}"
    );
    ensure!(
        dom.contains("(2025-11)") && dom.contains("<td>police_station</td><td>1</td><td>1</td><td class=\"rate\">100 %</td><td>0.0</td><td>0.0</td><td>1</td><td>1</td></tr>"),
        "this month's report from the store: the police completed one case on time with no working time, one went overdue, one supplement: {dom}"
    );
    ensure!(
        !dom.contains("35010219940315002X") && !dom.contains("林𠈌"),
        "no personal data on the page"
    );

    let shot = screenshot(profile.path(), &url, "operations-page.png")?;
    let (width, height, dark, red) = ink(&shot)?;
    println!(
        "screenshot {}: {width}x{height}, {dark} non-white pixels, {red} overdue-red pixels",
        shot.display()
    );
    ensure!((width, height) == (1280, 1500), "{width}x{height}");
    ensure!(
        dark > 20_000,
        "the page has content ({dark} non-white pixels)"
    );
    ensure!(red > 50, "the overdue case is shown in red ({red} pixels)");

    // The redrive button posts the form; the dead letter goes back to the police queue. A
    // cross-site form carrying the operator's cookie is refused.
    let client = newborn_http::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let redrive = format!("{}/operations/redrive/police", t.api);
    let cookie = format!("newborn_operator={}", t.running.operator_token);
    let forged = client
        .post(&redrive)
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .send()
        .await?;
    ensure!(forged.status() == 403, "cross-site: {}", forged.status());
    ensure!(
        client.post(&redrive).send().await?.status() == 401,
        "no token, no redrive"
    );
    let host = t.api.trim_start_matches("http://").to_owned();
    let res = client
        .post(&redrive)
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
        .send()
        .await?;
    ensure!(
        res.status() == 303,
        "redirect back to the page: {}",
        res.status()
    );
    let after = headless(profile.path(), &url, &["--dump-dom"])?;
    ensure!(
        after.contains("police-dlq</td><td>0"),
        "the dead-letter queue is empty: {after}"
    );
    let res = client
        .post(format!("{}/operations/redrive/evaluation", t.api))
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
        .send()
        .await?;
    ensure!(res.status() == 303, "{}", res.status());
    let after = headless(profile.path(), &url, &["--dump-dom"])?;
    ensure!(
        after.contains("evaluation-dlq</td><td>0"),
        "the evaluation stage's dead letter went back to its queue: {after}"
    );
    Ok(())
}

/// Pixels of a screenshot in the verified box's green (#e6f4ea) and the refusal box's red
/// (#fce8e6), and the black ones (a QR code's modules).
fn colours(png_file: &Path) -> Result<(usize, usize, usize)> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_file)?));
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().context("png size")?];
    let info = reader.next_frame(&mut buf)?;
    let channels = info.color_type.samples();
    let (mut green, mut red, mut black) = (0, 0, 0);
    for px in buf[..info.buffer_size()].chunks(channels) {
        let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
        let near = |(x, y, z): (i32, i32, i32)| (r - x).abs() + (g - y).abs() + (b - z).abs() < 6;
        green += usize::from(near((0xe6, 0xf4, 0xea)));
        red += usize::from(near((0xfc, 0xe8, 0xe6)));
        black += usize::from(r < 20 && g < 20 && b < 20);
    }
    Ok((green, red, black))
}

/// The verification page of a finished application's signed result, opened without a sign-in:
/// verified in green with the items and the QR code; the same code with one byte changed is
/// refused in red and shows nothing of the application. Screenshots:
/// `target/tmp/result-page.png` and `target/tmp/result-page-refused.png`.
/// Rules: OURS-SIGNED-RESULT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_page_shows_a_verified_result_and_refuses_an_altered_one() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-page", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.drive("mum-page", &id).await?;
    let signed = t
        .client
        .json(
            t.client
                .get("mum-page", &format!("/applications/{id}/result")),
        )
        .await?;
    let url = signed["verify_url"]
        .as_str()
        .context("verify_url")?
        .to_owned();
    let profile = tempfile::tempdir()?;
    let dom = headless(profile.path(), &url, &["--dump-dom"])?;
    ensure!(dom.contains("data-verified=\"true\""), "{dom}");
    ensure!(dom.contains(&id) && dom.contains("出生户口登记"), "{dom}");
    ensure!(
        dom.contains("data:image/png;base64,"),
        "the QR code is on the page"
    );
    let shot = screenshot(profile.path(), &url, "result-page.png")?;
    let (green, red, black) = colours(&shot)?;
    println!(
        "screenshot {}: {green} green, {red} red, {black} black pixels",
        shot.display()
    );
    ensure!(green > 20_000, "the verdict is green ({green} pixels)");
    ensure!(red < 50, "nothing is red ({red} pixels)");
    ensure!(black > 5_000, "the QR code is drawn ({black} black pixels)");

    let token = url
        .rsplit_once("token=")
        .map(|(_, t)| t)
        .unwrap_or_default();
    let mut altered = token.as_bytes().to_vec();
    let at = token.find('.').unwrap_or(0) + 12;
    altered[at] = if altered[at] == b'Q' { b'R' } else { b'Q' };
    let altered = format!("{}/verify?token={}", t.api, String::from_utf8(altered)?);
    let dom = headless(profile.path(), &altered, &["--dump-dom"])?;
    ensure!(
        dom.contains("data-verified=\"false\"") && !dom.contains(&id),
        "{dom}"
    );
    let shot = screenshot(profile.path(), &altered, "result-page-refused.png")?;
    let (green, red, _) = colours(&shot)?;
    println!(
        "screenshot {}: {green} green, {red} red pixels",
        shot.display()
    );
    ensure!(
        red > 20_000 && green < 50,
        "the refusal is red ({red}) and nothing green ({green})"
    );
    Ok(())
}
