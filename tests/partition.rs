//! Issue 10 (China regions): nothing in the template or the code names the global partition or
//! the global endpoint domain; ARNs and URLs are built with `${AWS::Partition}` and
//! `${AWS::URLSuffix}` (or come from the SDK's region resolution).

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".venv" | ".git" | "node_modules") {
                files(&path, out);
            }
        } else if ["rs", "toml", "yaml", "yml", "json"]
            .iter()
            .any(|ext| name.ends_with(&format!(".{ext}")))
        {
            out.push(path);
        }
    }
}

#[test]
fn no_hard_coded_global_partition_or_endpoint_in_template_or_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = vec![];
    for dir in ["src", "shared", "functions", "infra"] {
        files(&root.join(dir), &mut all);
    }
    all.push(root.join("template.yaml"));
    assert!(all.len() > 20, "scanned too few files: {}", all.len());
    let forbidden = [concat!("arn:", "aws:"), concat!("amazonaws", ".com")];
    let mut found = vec![];
    for file in &all {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            // A service principal (`Principal: {Service: logging.s3.amazonaws.com}`) is a name,
            // not an endpoint: AWS uses the same names in the aws-cn partition.
            let principal = line.trim_start().starts_with("Principal: {Service: ")
                && !line.contains(concat!("arn:", "aws:"));
            if !principal && forbidden.iter().any(|f| line.contains(f)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "hard-coded partition or endpoint:\n{}",
        found.join("\n")
    );
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap_or_default();
    assert!(
        template.contains("${AWS::URLSuffix}"),
        "the API URL is built partition-neutrally"
    );
    assert!(
        !template.contains("AWS::Scheduler::"),
        "EventBridge Scheduler may be missing in the China regions; use a schedule rule"
    );
    assert!(
        !template.contains("FunctionUrlConfig") && !template.contains("Tracing: Active"),
        "no function URLs or X-Ray in the China regions"
    );
}
