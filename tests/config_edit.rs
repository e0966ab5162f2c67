//! Property-style tests of the `config.toml` editor over a corpus of real-looking files:
//! enable → disable is byte-identical (also after any sequence of enables and model switches),
//! enable and `model use` are idempotent, other tables are never touched, invalid TOML is never
//! written, and edits the user makes meanwhile survive `disable`.

mod common;

use std::path::{Path, PathBuf};

use codex_shim::codex::config::{
    active_model, has_provider, ConfigEditor, ConfigError, Managed, Outcome,
};

/// Every corpus file (name, text); `None` text is "no config.toml at all".
fn corpus() -> Vec<(String, Option<String>)> {
    let mut files: Vec<(String, Option<String>)> = std::fs::read_dir(common::fixture("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                Some(std::fs::read_to_string(&p).unwrap()),
            )
        })
        .collect();
    files.sort();
    files.push(("(absent)".into(), None));
    assert!(files.len() >= 10, "the corpus is there");
    files
}

struct Case {
    _dir: tempfile::TempDir,
    editor: ConfigEditor,
}

impl Case {
    fn new(text: &Option<String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("codex/config.toml");
        if let Some(t) = text {
            std::fs::create_dir_all(config.parent().unwrap()).unwrap();
            std::fs::write(&config, t).unwrap();
        }
        let editor = ConfigEditor::new(config, dir.path().join("state"));
        Case { _dir: dir, editor }
    }

    fn text(&self) -> Option<String> {
        std::fs::read_to_string(&self.editor.config_path).ok()
    }
}

fn managed(model: &str) -> Managed {
    Managed {
        model: model.into(),
        port: 8765,
        catalog: PathBuf::from("/home/me/.local/share/codex-shim/catalog.json"),
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Enable(&'static str),
    Use(&'static str),
}

fn run(case: &Case, op: Op) {
    match op {
        Op::Enable(m) => {
            case.editor.enable(&managed(m)).unwrap();
        }
        Op::Use(m) => {
            case.editor.set_model(m).unwrap();
        }
    }
}

/// Every sequence of up to three operations that starts by enabling.
fn sequences() -> Vec<Vec<Op>> {
    let ops = [
        Op::Enable("kimi-k2"),
        Op::Enable("claude"),
        Op::Use("kimi-k2"),
        Op::Use("claude"),
    ];
    let mut out: Vec<Vec<Op>> = ops[..2].iter().map(|o| vec![*o]).collect();
    for _ in 0..2 {
        let longer: Vec<Vec<Op>> = out
            .iter()
            .filter(|s| s.len() == out.last().unwrap().len())
            .flat_map(|s| ops.iter().map(move |o| [s.clone(), vec![*o]].concat()))
            .collect();
        out.extend(longer);
    }
    out
}

#[test]
fn enable_then_disable_is_byte_identical_after_any_sequence() {
    let seqs = sequences();
    assert_eq!(seqs.len(), 2 + 8 + 32);
    for (name, original) in corpus() {
        for seq in &seqs {
            let case = Case::new(&original);
            for op in seq {
                run(&case, *op);
            }
            let enabled = case.text().unwrap();
            assert!(has_provider(&enabled), "{name} {seq:?}");
            assert_eq!(case.editor.disable().unwrap(), Outcome::Changed);
            assert_eq!(case.text(), original, "{name} after {seq:?}");
        }
    }
}

#[test]
fn enable_and_model_use_are_idempotent() {
    for (name, original) in corpus() {
        let case = Case::new(&original);
        assert_eq!(
            case.editor.enable(&managed("kimi-k2")).unwrap(),
            Outcome::Changed,
            "{name}"
        );
        let once = case.text().unwrap();
        assert_eq!(
            case.editor.enable(&managed("kimi-k2")).unwrap(),
            Outcome::Unchanged,
            "{name}"
        );
        assert_eq!(case.text().unwrap(), once, "{name}: enable twice = once");
        case.editor.set_model("claude").unwrap();
        let switched = case.text().unwrap();
        assert_eq!(
            case.editor.set_model("claude").unwrap(),
            Outcome::Unchanged,
            "{name}"
        );
        assert_eq!(
            case.text().unwrap(),
            switched,
            "{name}: model use twice = once"
        );
        assert_eq!(
            switched.lines().count(),
            once.lines().count(),
            "{name}: a switch adds no lines"
        );
        assert_eq!(active_model(&switched).as_deref(), Some("claude"), "{name}");
        // Enabling again (say after a restart on another port) rewrites only what changed.
        case.editor
            .enable(&Managed {
                port: 9999,
                ..managed("claude")
            })
            .unwrap();
        let moved = case.text().unwrap();
        assert_eq!(
            moved.lines().count(),
            once.lines().count(),
            "{name}: no growing blank lines"
        );
        assert!(moved.contains("http://127.0.0.1:9999/v1"), "{name}");
        if original.as_deref().is_some_and(|t| t.contains("\r\n")) {
            assert!(
                !moved.replace("\r\n", "").contains('\n'),
                "{name}: CRLF stays CRLF"
            );
        }
    }
}

#[test]
fn other_tables_are_never_touched() {
    for (name, original) in corpus() {
        let Some(original) = original else { continue };
        let case = Case::new(&Some(original.clone()));
        case.editor.enable(&managed("kimi-k2")).unwrap();
        let enabled = case.text().unwrap();
        // Every line of the original that is not a managed top-level key is still there, in order.
        let managed_line = |l: &str| {
            ["model =", "model_provider =", "model_catalog_json ="]
                .iter()
                .any(|k| l.trim_start().starts_with(k))
                && !l.starts_with(' ')
        };
        let mut rest = enabled.as_str();
        let mut in_table = false;
        let mut in_ours = false;
        for line in original.lines() {
            if line.trim_start().starts_with('[') {
                in_table = true;
                // The shim's own provider table (from an older install) is the shim's to edit.
                in_ours = line.trim() == "[model_providers.codex_shim]";
            }
            if (!in_table && managed_line(line)) || in_ours || line.contains("codex_shim = {") {
                continue;
            }
            if line.starts_with("model_providers = {") {
                // An inline table is closed to new tables: the entry goes inside the same line, and
                // the user's own entries keep their exact text.
                let theirs = &line["model_providers = {".len()..line.len() - 1].trim();
                assert!(
                    enabled.contains(theirs),
                    "{name}: {theirs} changed:\n{enabled}"
                );
                continue;
            }
            let pos = rest
                .find(line)
                .unwrap_or_else(|| panic!("{name}: line {line:?} lost or moved:\n{enabled}"));
            rest = &rest[pos + line.len()..];
        }
    }
}

#[test]
fn edits_made_meanwhile_survive_disable() {
    let original = std::fs::read_to_string(common::fixture("config/commented.toml")).unwrap();
    let case = Case::new(&Some(original));
    case.editor.enable(&managed("kimi-k2")).unwrap();
    let edited = format!(
        "{}\n[history]\npersistence = \"none\"\n",
        case.text().unwrap()
    );
    std::fs::write(&case.editor.config_path, &edited).unwrap();
    case.editor.disable().unwrap();
    let after = case.text().unwrap();
    assert!(
        after.contains("[history]\npersistence = \"none\""),
        "the user's edit is kept:\n{after}"
    );
    assert!(
        after.contains("model = \"o3\"   # the default I like"),
        "the displaced model and its comment are back:\n{after}"
    );
    assert!(
        !after.contains("codex_shim")
            && !after.contains("model_catalog_json")
            && !after.contains("model_provider"),
        "{after}"
    );
}

/// `disable` removes only what the shim recorded adding: a second `disable`, with nothing recorded,
/// changes nothing, even in a file that names the shim (an older install, or written by hand); and
/// `enable → disable → enable` writes the first enabled file again.
#[test]
fn disable_without_a_record_changes_nothing_and_enabling_again_repeats_itself() {
    for (name, original) in corpus() {
        let case = Case::new(&original);
        assert_eq!(
            case.editor.disable().unwrap(),
            Outcome::Unchanged,
            "{name}: never enabled here"
        );
        assert_eq!(case.text(), original, "{name}: a disable before any enable");
        case.editor.enable(&managed("kimi-k2")).unwrap();
        let first = case.text();
        for op in [Op::Use("claude"), Op::Use("kimi-k2"), Op::Use("claude")] {
            run(&case, op);
        }
        assert_eq!(case.editor.disable().unwrap(), Outcome::Changed, "{name}");
        assert_eq!(case.text(), original, "{name}: the first disable");
        assert_eq!(
            case.editor.disable().unwrap(),
            Outcome::Unchanged,
            "{name}: the second disable"
        );
        assert_eq!(case.text(), original, "{name}: the second disable wrote");
        case.editor.enable(&managed("kimi-k2")).unwrap();
        assert_eq!(case.text(), first, "{name}: enable again");
        case.editor.disable().unwrap();
        assert_eq!(case.text(), original, "{name}: and disable again");
    }
}

/// A provider table that was there before `enable` keeps its own values and lines when the user
/// edits the file meanwhile (so `disable` cannot restore the original byte for byte).
#[test]
fn a_provider_table_from_before_keeps_its_values_after_edits_meanwhile() {
    let original =
        std::fs::read_to_string(common::fixture("config/shim-table-from-older-install.toml"))
            .unwrap();
    let case = Case::new(&Some(original.clone()));
    case.editor.enable(&managed("kimi-k2")).unwrap();
    let enabled = case.text().unwrap();
    assert!(enabled.contains("http://127.0.0.1:8765/v1"), "{enabled}");
    std::fs::write(
        &case.editor.config_path,
        format!(
            "{enabled}
[tui]
notifications = true
"
        ),
    )
    .unwrap();
    assert_eq!(case.editor.disable().unwrap(), Outcome::Changed);
    let after = case.text().unwrap();
    for line in [
        "model = \"deepseek-chat\"",
        "model_provider = \"codex_shim\"",
        "[model_providers.codex_shim]",
        "base_url = \"http://127.0.0.1:8000/v1\"",
        "env_key = \"SHIM_TOKEN\"   # my own addition",
        "[tui]",
    ] {
        assert!(after.contains(line), "{line} is kept:\n{after}");
    }
    assert!(
        !after.contains("8765")
            && !after.contains("model_catalog_json")
            && !after.contains("stream_idle_timeout_ms"),
        "what the shim added is gone:\n{after}"
    );
    assert_eq!(case.editor.disable().unwrap(), Outcome::Unchanged);
    assert_eq!(case.text().unwrap(), after);
}

#[test]
fn invalid_toml_is_never_written() {
    let broken = std::fs::read_to_string(common::fixture("config/invalid.toml.txt")).unwrap();
    let case = Case::new(&Some(broken.clone()));
    let err = case.editor.enable(&managed("kimi-k2")).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("line 2") && msg.contains("column") && msg.contains("left it unchanged"),
        "{msg}"
    );
    assert_eq!(case.text().unwrap(), broken);
    assert!(matches!(
        case.editor.set_model("x").unwrap_err(),
        ConfigError::NotEnabled(_)
    ));
    assert_eq!(case.text().unwrap(), broken);
}

#[test]
fn every_write_is_backed_up_and_old_backups_are_pruned() {
    let case = Case::new(&Some("model = \"o3\"\n".into()));
    for i in 0..8 {
        case.editor
            .enable(&managed(if i % 2 == 0 { "a" } else { "b" }))
            .unwrap();
    }
    let backups: Vec<PathBuf> = std::fs::read_dir(case.editor.state_dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 5, "the newest five are kept");
    assert!(backups.iter().all(|b| Path::new(b)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("config.toml.")));
    // The temp files of atomic writes never linger.
    let leftovers: Vec<_> = std::fs::read_dir(case.editor.config_path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["config.toml"]);
}
