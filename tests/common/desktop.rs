//! A synthetic Codex Desktop bundle for the patch tests: Contents/Info.plist with
//! ElectronAsarIntegrity, Contents/Resources/app.asar holding the two targets.

use std::collections::BTreeMap;
use std::path::Path;

use codex_shim::patch::asar::{pack, Archive};

pub const PICKER: &str = "let u=c.useHiddenModels&&o!==`amazonBedrock`,d;";
pub const SIDEBAR: &str = "listRecentThreads({cursor:e,limit:t}){return this.params.requestClient.sendRequest(`thread/list`,{limit:t,cursor:e,sortKey:this.recentConversationSortKey,modelProviders:null,archived:!1,sourceKinds:ke})}";

pub fn plist(version: &str, hash: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleIdentifier</key>
	<string>com.openai.codex</string>
	<key>CFBundleShortVersionString</key>
	<string>{version}</string>
	<key>ElectronAsarIntegrity</key>
	<dict>
		<key>Resources/app.asar</key>
		<dict>
			<key>algorithm</key>
			<string>SHA256</string>
			<key>hash</key>
			<string>{hash}</string>
		</dict>
	</dict>
</dict>
</plist>
"#
    )
}

/// Writes a Codex.app whose bundle holds `scripts` (file name under webview/assets → text).
pub fn make_app(app: &Path, version: &str, scripts: &[(&str, String)]) {
    let mut files = BTreeMap::new();
    files.insert("package.json".to_string(), br#"{"name":"codex"}"#.to_vec());
    files.insert(
        "webview/index.html".to_string(),
        b"<!doctype html>".to_vec(),
    );
    for (name, text) in scripts {
        files.insert(format!("webview/assets/{name}"), text.clone().into_bytes());
    }
    let bytes = pack(&files);
    let hash = Archive::parse(bytes.clone()).unwrap().header_hash();
    std::fs::create_dir_all(app.join("Contents/Resources")).unwrap();
    std::fs::write(app.join("Contents/Resources/app.asar"), bytes).unwrap();
    std::fs::write(app.join("Contents/Info.plist"), plist(version, &hash)).unwrap();
}

pub fn normal_scripts() -> Vec<(&'static str, String)> {
    vec![
        (
            "model-queries-Ab1.js",
            format!("function q(c,o){{{PICKER}return u}}"),
        ),
        (
            "app-server-manager-signals-Cd2.js",
            format!("class M{{{SIDEBAR}}}"),
        ),
        ("vendor-Ef3.js", "var x=1;".into()),
    ]
}
