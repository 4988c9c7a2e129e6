//! `cargo run -p plexus-analysis --example analyze -- RUN_DIR [SPLIT]`: prints the report
//! as JSON (the library path of `plexus analyze`, without the host).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().ok_or("usage: analyze RUN_DIR [SPLIT]")?;
    let report = plexus_analysis::analyze_run(std::path::Path::new(dir), args.get(1).map_or("test", |s| s.as_str()))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
