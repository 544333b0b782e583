//! The operator's page of the local runtime (`GET /operations`, loopback only): overdue and
//! at-risk cases from the open-clock index, this month's efficiency report per agency (on-time
//! rate, working time, ratings and follow-ups: from the store's facts, so a restart changes
//! nothing),
//! average stage durations as bar charts, and every queue's dead letters with a redrive button. It shows application ids,
//! stages, agencies and times — no personal data — and needs no script to work.

use super::metrics::Counters;
use chrono::{DateTime, Utc};
use newborn_domain::calendar::CHINA;
use newborn_domain::kinds::Watch;
use newborn_domain::stage::Stage;
use newborn_embedded::{SqliteQueue, dead_letter_queue};
use newborn_service::ports::QueueName;
use newborn_service::{Dim, Metric, SupervisionDesk};
use std::fmt::Write as _;

/// What the page shows, gathered before rendering.
pub struct Snapshot {
    /// Service time.
    pub now: DateTime<Utc>,
    /// Cases past a warning threshold or a deadline: (application, watch, deadline, overdue).
    pub cases: Vec<(String, Watch, Option<DateTime<Utc>>, bool)>,
    /// Dead letters per queue: (queue, bodies shown). A notification's body carries what the
    /// family was told, so only its count is shown.
    pub dead_letters: Vec<(QueueName, Vec<String>)>,
    /// This month's efficiency report (service time).
    pub report: newborn_service::report::EfficiencyReport,
    /// The agency watchdog.
    pub watchdog: Vec<newborn_service::watchdog::AgencyWatch>,
}

/// Reads the index and the queues.
pub async fn snapshot(desk: &SupervisionDesk, queue: &SqliteQueue) -> Result<Snapshot, String> {
    let now = desk.core().now();
    let mut cases: Vec<_> = desk
        .due_clocks(now)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|c| {
            let overdue = c.deadline.is_some_and(|d| d <= now);
            (c.application_id.to_string(), c.watch, c.deadline, overdue)
        })
        .collect();
    cases.sort_by_key(|(_, _, deadline, overdue)| (!overdue, *deadline));
    let mut dead_letters = vec![];
    for name in QueueName::ALL {
        let bodies = queue
            .peek(&dead_letter_queue(name.as_str()), 20)
            .await?
            .into_iter()
            .map(|m| match name {
                QueueName::Notifications => {
                    "（内容含个人信息，不显示 / personal data, not shown）".to_owned()
                }
                _ => m.body,
            })
            .collect();
        dead_letters.push((name, bodies));
    }
    let report = desk
        .report(newborn_service::report::Period::month_of(now), None)
        .await
        .map_err(|e| e.to_string())?;
    let (_, watchdog) = desk.watchdog().await.map_err(|e| e.to_string())?;
    Ok(Snapshot {
        now,
        cases,
        dead_letters,
        report,
        watchdog,
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn china(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.with_timezone(&CHINA).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "—".into())
}

/// A horizontal bar chart (inline SVG) of `(label, seconds)`, in the unit that suits the
/// largest value.
fn bars(rows: &[(String, f64)], color: &str) -> String {
    let max = rows.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let (unit, per) = if max >= 7200.0 {
        ("h", 3600.0)
    } else if max >= 120.0 {
        ("min", 60.0)
    } else {
        ("s", 1.0)
    };
    let height = 28 * rows.len().max(1) + 8;
    let mut svg = format!(
        r#"<svg role="img" width="720" height="{height}" viewBox="0 0 720 {height}" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 8 + 28 * i;
        let w = if max > 0.0 {
            (value / max * 400.0).round()
        } else {
            0.0
        };
        let _ = write!(
            svg,
            r#"<text x="0" y="{}" font-size="13">{}</text><rect x="190" y="{y}" width="{w}" height="18" fill="{color}"/><text x="{}" y="{}" font-size="12">{:.1} {unit}</text>"#,
            y + 14,
            esc(label),
            196.0 + w,
            y + 14,
            value / per
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The page.
pub fn render(snap: &Snapshot, counters: &Counters) -> String {
    let mut html = String::from(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>运行监察 · Operations</title>
<style>
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:24px;color:#1d2733}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccd3db;padding-bottom:4px}
table{border-collapse:collapse}td,th{border:1px solid #ccd3db;padding:4px 10px;font-size:13px;text-align:left}
th{background:#eef2f6}.overdue{color:#b3261e;font-weight:bold}.warning{color:#9a6700;font-weight:bold}
.rate{font-size:20px;font-weight:bold}code{font-size:12px}
</style></head><body>"#,
    );
    let _ = write!(
        html,
        "<h1>新生儿出生一件事 · 运行监察 / Operations</h1><p>服务时间 service time: {}</p>",
        china(Some(snap.now))
    );

    let overdue = snap.cases.iter().filter(|c| c.3).count();
    let _ = write!(
        html,
        r#"<h2>超期与预警办件 / Overdue and at-risk cases</h2><p id="case-counts"><span class="overdue">{overdue} 超期 overdue</span> · <span class="warning">{} 预警 at risk</span></p>"#,
        snap.cases.len() - overdue
    );
    if snap.cases.is_empty() {
        html.push_str("<p>无 / none</p>");
    } else {
        html.push_str(r#"<table id="cases"><tr><th>申请 application</th><th>环节 stage</th><th>承办 agency</th><th>时限 deadline</th><th>状态 state</th></tr>"#);
        for (id, watch, deadline, overdue) in &snap.cases {
            let (class, state) = if let Watch::Delivery(_) = watch {
                ("overdue", "未确认接收 unacknowledged")
            } else if *overdue {
                ("overdue", "超期 overdue")
            } else {
                ("warning", "预警 at risk")
            };
            let (agency, label) = newborn_domain::licence::supervised(*watch);
            let _ = write!(
                html,
                r#"<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td class="{class}">{state}</td></tr>"#,
                esc(id),
                esc(&label.zh),
                agency.as_str(),
                china(*deadline)
            );
        }
        html.push_str("</table>");
    }

    // The agency watchdog (the same as `GET /supervision/watchdog` and the sweep's metrics).
    html.push_str(
        r#"<h2>承办单位看门狗 / Agency watchdog</h2><table id="watchdog"><tr><th>承办 agency</th><th>在办 open</th><th>超期 beyond deadline</th><th>未确认接收 unacknowledged</th><th>最早到期 due first</th><th>时限 deadline</th><th>已超 overdue by</th></tr>"#,
    );
    for w in &snap.watchdog {
        let (first, deadline, by) = match &w.due_first {
            Some(d) => (
                format!(
                    "<code>{}</code> {}",
                    esc(d.application_id.as_str()),
                    d.stage.as_str()
                ),
                china(Some(d.deadline)),
                if d.overdue_secs > 0 {
                    format!(
                        r#"<span class="overdue">{:.1} h</span>"#,
                        d.overdue_secs as f64 / 3600.0
                    )
                } else {
                    "—".into()
                },
            ),
            None => ("—".into(), "—".into(), "—".into()),
        };
        let late = |n: usize| {
            if n > 0 {
                format!(r#"<span class="overdue">{n}</span>"#)
            } else {
                "0".into()
            }
        };
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ({} late)</td><td>{first}</td><td>{deadline}</td><td>{by}</td></tr>"#,
            w.agency.as_str(),
            w.open,
            late(w.beyond_sla),
            w.unacknowledged,
            late(w.unacknowledged_late),
        );
    }
    html.push_str("</table>");

    // This month's efficiency report, from the store's facts (the same as
    // `GET /supervision/reports` and `newborn report`).
    let r = &snap.report;
    let _ = write!(
        html,
        r#"<h2>按时办结率 / On-time rate per agency ({period})</h2><table id="on-time"><tr><th>承办 agency</th><th>办结 completed</th><th>按时 on time</th><th>按时率 rate</th><th>中位工时 median h</th><th>P90 工时 h</th><th>超期 overdue</th><th>补件 supplements</th></tr>"#,
        period = esc(&r.period.label)
    );
    let hours = |h: Option<f64>| h.map(|h| format!("{h:.1}")).unwrap_or_else(|| "—".into());
    for a in &r.agencies {
        let rate = a
            .on_time_rate
            .map(|x| format!("{:.0} %", x * 100.0))
            .unwrap_or_else(|| "—".into());
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="rate">{rate}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            a.agency.as_str(),
            a.stages_completed,
            a.completed_on_time,
            hours(a.median_working_hours),
            hours(a.p90_working_hours),
            a.overdue,
            a.supplements_requested,
        );
    }
    html.push_str("</table>");

    // 好差评 per agency: ratings by level, bad ones (不满意, 非常不满意) opening follow-ups.
    let _ = write!(
        html,
        r#"<h2>好差评 / Ratings per agency ({period})</h2><table id="ratings"><tr><th>承办 agency</th><th>非常满意</th><th>满意</th><th>基本满意</th><th>不满意</th><th>非常不满意</th><th>未评价 not rated</th><th>整改 follow-ups opened</th><th>整改已办结 closed</th><th>按期 on time</th></tr>"#,
        period = esc(&r.period.label)
    );
    for a in &r.agencies {
        let _ = write!(html, "<tr><td>{}</td>", a.agency.as_str());
        for level in newborn_domain::flow::RATING_LEVELS {
            let _ = write!(
                html,
                "<td>{}</td>",
                a.ratings.get(&level).copied().unwrap_or(0)
            );
        }
        let _ = write!(
            html,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.not_rated, a.follow_ups_opened, a.follow_ups_closed, a.follow_ups_closed_on_time
        );
    }
    html.push_str("</table>");

    let average = |metric: Metric, stage: Stage| {
        let t = counters.total(metric, &[(Dim::Stage, stage.as_str())]);
        if t.count == 0 {
            0.0
        } else {
            t.sum / t.count as f64
        }
    };
    let working: Vec<(String, f64)> = Stage::ALL
        .iter()
        .skip(1)
        .map(|s| (s.as_str().to_owned(), average(Metric::StageWorkingTime, *s)))
        .collect();
    let wall: Vec<(String, f64)> = Stage::ALL
        .iter()
        .skip(1)
        .map(|s| (s.as_str().to_owned(), average(Metric::StageWallTime, *s)))
        .collect();
    let _ = write!(
        html,
        r#"<h2>平均办理时长 / Average stage duration</h2><h3>工作时间 working time</h3><div id="working-time">{}</div><h3>自然时间 wall time</h3><div id="wall-time">{}</div>"#,
        bars(&working, "#2f6fb3"),
        bars(&wall, "#7a8fa6")
    );

    html.push_str(r#"<h2>死信队列 / Dead-letter queues</h2><table id="dead-letters"><tr><th>队列 queue</th><th>条数 messages</th><th>内容 content</th><th></th></tr>"#);
    for (queue, bodies) in &snap.dead_letters {
        let content = bodies
            .iter()
            .map(|b| format!("<code>{}</code>", esc(b)))
            .collect::<Vec<_>>()
            .join("<br>");
        let button = if bodies.is_empty() {
            String::new()
        } else {
            format!(
                r#"<form method="post" action="/operations/redrive/{0}"><button type="submit">重新投递 redrive</button></form>"#,
                queue.as_str()
            )
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{content}</td><td>{button}</td></tr>",
            dead_letter_queue(queue.as_str()),
            bodies.len()
        );
    }
    html.push_str("</table><p>Prometheus: <a href=\"/metrics\">/metrics</a></p></body></html>");
    html
}
