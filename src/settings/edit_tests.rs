use super::*;
use serde_json::json;

struct Fixture {
    dir: tempfile::TempDir,
    factory: PathBuf,
    own: PathBuf,
}

impl Fixture {
    fn new(factory: Option<Value>, own: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let factory_path = dir.path().join("factory/settings.json");
        let own_path = dir.path().join("codex-shim/models.json");
        if let Some(f) = factory {
            std::fs::create_dir_all(factory_path.parent().unwrap()).unwrap();
            std::fs::write(&factory_path, f.to_string()).unwrap();
        }
        if let Some(o) = own {
            std::fs::create_dir_all(own_path.parent().unwrap()).unwrap();
            std::fs::write(&own_path, o).unwrap();
        }
        Fixture {
            dir,
            factory: factory_path,
            own: own_path,
        }
    }
    fn source(&self) -> SettingsSource {
        SettingsSource::Defaults(vec![self.factory.clone(), self.own.clone()])
    }
    fn settings(&self) -> Settings {
        Settings::load(&self.source()).unwrap()
    }
    fn backups(&self) -> PathBuf {
        self.dir.path().join("state/backups")
    }
    fn save(&self, edit: ModelEdit) -> Result<Saved, String> {
        save(
            &self.source(),
            &self.settings(),
            &edit,
            None,
            &self.backups(),
        )
    }
    fn own_json(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.own).unwrap()).unwrap()
    }
    fn slugs(&self) -> Vec<String> {
        self.settings().models.into_iter().map(|m| m.slug).collect()
    }
}

fn edit(model: &str, provider: &str) -> ModelEdit {
    ModelEdit {
        model: model.into(),
        provider: provider.into(),
        ..Default::default()
    }
}

#[test]
fn adding_to_a_missing_file_creates_it_with_a_pinned_slug_and_a_key_reference() {
    let f = Fixture::new(None, None);
    let saved = f
        .save(ModelEdit {
            display_name: Some("GLM 4.6".into()),
            base_url: Some("https://api.z.ai/api/paas/v4".into()),
            key_name: Some("ZAI_API_KEY".into()),
            max_context_limit: Some(200_000),
            ..edit("glm-4.6", "generic-chat-completion-api")
        })
        .unwrap();
    assert_eq!(saved.slug, "glm-4-6");
    assert_eq!(saved.file, f.own);
    assert_eq!(
        f.own_json(),
        json!({"models": [{"model": "glm-4.6", "slug": "glm-4-6", "displayName": "GLM 4.6",
            "provider": "generic-chat-completion-api", "baseUrl": "https://api.z.ai/api/paas/v4",
            "apiKey": "${ZAI_API_KEY}", "maxContextLimit": 200000}]})
    );
    let m = &f.settings().models[0];
    assert_eq!(m.api_key.as_deref(), Some("${ZAI_API_KEY}"));
    assert_eq!(m.max_context_limit, Some(200_000));
    // Nothing to back up for a new file.
    assert!(!f.backups().exists());
}

#[test]
fn editing_keeps_unknown_fields_spellings_order_and_the_other_rows() {
    let original = r#"{
  "note": "mine",
  "models": [
    {"model": "a", "provider": "openai", "base_url": "https://a.example/v1", "api_key": "${A_KEY}",
     "extraHeaders": {"X-Team": "t1"}, "custom": 7},
    "qwen2.5-coder:14b"
  ]
}"#;
    let f = Fixture::new(None, Some(original));
    f.save(ModelEdit {
        original: Some("a".into()),
        display_name: Some("Model A".into()),
        base_url: Some("https://b.example/v1".into()),
        ..edit("a-2", "openai")
    })
    .unwrap();
    let doc = f.own_json();
    assert_eq!(doc["note"], "mine");
    let row = doc["models"][0].as_object().unwrap();
    let keys: Vec<&str> = row.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "model",
            "provider",
            "base_url",
            "api_key",
            "extraHeaders",
            "custom",
            "slug",
            "displayName"
        ]
    );
    assert_eq!(row["base_url"], "https://b.example/v1");
    assert_eq!(
        row["api_key"], "${A_KEY}",
        "no key in the form: the reference stays"
    );
    assert_eq!(row["model"], "a-2");
    assert_eq!(row["slug"], "a", "the slug Codex knows does not move");
    assert_eq!(doc["models"][1], "qwen2.5-coder:14b");
    // The old file was backed up, byte for byte.
    let backups: Vec<_> = std::fs::read_dir(f.backups()).unwrap().collect();
    assert_eq!(backups.len(), 1);
    let b = backups[0].as_ref().unwrap().path();
    assert_eq!(std::fs::read_to_string(b).unwrap(), original);
}

#[test]
fn adding_a_second_row_for_the_same_model_pins_the_first_ones_slug() {
    // Two rows with one `model` take their slugs from their display names, so adding the second
    // would rename the first (from `deepseek-v4` to `deepseek`): it is pinned instead.
    let f = Fixture::new(
        None,
        Some(r#"[{"model": "deepseek-v4", "displayName": "DeepSeek", "provider": "openai"}]"#),
    );
    assert_eq!(f.slugs(), ["deepseek-v4"]);
    let saved = f
        .save(ModelEdit {
            display_name: Some("DeepSeek via Anthropic".into()),
            ..edit("deepseek-v4", "anthropic")
        })
        .unwrap();
    assert_eq!(saved.slug, "deepseek-via-anthropic");
    assert_eq!(f.slugs(), ["deepseek-v4", "deepseek-via-anthropic"]);
    assert_eq!(f.own_json()[0]["slug"], "deepseek-v4");
}

#[test]
fn editing_a_factory_model_overrides_it_here_and_leaves_factory_alone() {
    let factory = json!({"customModels": [{"model": "k2", "provider": "openai", "baseUrl": "https://or.example/v1"}], "other": true});
    let f = Fixture::new(Some(factory.clone()), None);
    let before = std::fs::read_to_string(&f.factory).unwrap();
    f.save(ModelEdit {
        original: Some("k2".into()),
        max_context_limit: Some(128_000),
        base_url: Some("https://or.example/v1".into()),
        ..edit("k2", "openai")
    })
    .unwrap();
    assert_eq!(std::fs::read_to_string(&f.factory).unwrap(), before);
    let s = f.settings();
    assert_eq!(s.slugs(), ["k2"], "one model: the override replaces it");
    assert_eq!(s.models[0].source, f.own);
    assert_eq!(s.models[0].max_context_limit, Some(128_000));
}

#[test]
fn a_clashing_slug_or_a_bad_field_is_refused_and_nothing_changes() {
    let text = r#"{"models": [{"model": "x", "provider": "ollama"}]}"#;
    let f = Fixture::new(None, Some(text));
    let e = f.save(edit("x", "ollama")).unwrap_err();
    assert!(e.contains("`x` exists already"), "{e}");
    let e = f.save(edit("y", "openia")).unwrap_err();
    assert!(e.contains("unknown provider \"openia\""), "{e}");
    let e = f
        .save(ModelEdit {
            wire_api: Some("grpc".into()),
            ..edit("y", "openai")
        })
        .unwrap_err();
    assert!(
        e.contains("wire"),
        "the parser's own error names the field: {e}"
    );
    let e = f.save(edit(" ", "openai")).unwrap_err();
    assert!(e.contains("model id"), "{e}");
    let e = f
        .save(ModelEdit {
            key_name: Some("no spaces please".into()),
            ..edit("y", "openai")
        })
        .unwrap_err();
    assert!(e.contains("not a key name"), "{e}");
    assert_eq!(std::fs::read_to_string(&f.own).unwrap(), text);
    assert!(!f.backups().exists());
}

#[test]
fn a_broken_file_is_not_touched() {
    let text = "{\"models\": [ {\"model\": ";
    let f = Fixture::new(None, Some(text));
    // The server keeps the last good settings meanwhile; here, none.
    let e = save(
        &f.source(),
        &Settings::default(),
        &edit("y", "openai"),
        None,
        &f.backups(),
    )
    .unwrap_err();
    assert!(
        e.contains("not valid JSON") && e.contains("nothing was changed"),
        "{e}"
    );
    assert!(e.contains("models.json"), "names the file: {e}");
    assert_eq!(std::fs::read_to_string(&f.own).unwrap(), text);
}

#[test]
fn removing_a_model_pins_the_slugs_after_it() {
    let f = Fixture::new(None, Some(r#"["m", "m", "other"]"#));
    assert_eq!(f.slugs(), ["m", "m-2", "other"]);
    remove(&f.source(), &f.settings(), "m", &f.backups()).unwrap();
    assert_eq!(f.slugs(), ["m-2", "other"], "m-2 keeps its name");
    let e = remove(&f.source(), &f.settings(), "nope", &f.backups()).unwrap_err();
    assert!(e.contains("no model `nope`"), "{e}");
}

#[test]
fn models_from_other_files_cannot_be_removed_here() {
    let f = Fixture::new(Some(json!({"customModels": ["k"]})), None);
    let e = remove(&f.source(), &f.settings(), "k", &f.backups()).unwrap_err();
    assert!(
        e.contains("comes from") && e.contains("settings.json"),
        "{e}"
    );
}

#[test]
fn default_key_names_are_environment_style() {
    assert_eq!(default_key_name("glm-4-6"), "GLM_4_6_API_KEY");
}
