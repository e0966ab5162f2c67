use super::*;

const PICKER_LINE: &str = "let u=c.useHiddenModels&&o!==`amazonBedrock`,d;";
const SIDEBAR_LINE: &str = "listRecentThreads({cursor:e,limit:t}){return this.params.requestClient.sendRequest(`thread/list`,{limit:t,cursor:e,sortKey:this.recentConversationSortKey,modelProviders:null,archived:!1,sourceKinds:ke})}";

fn one(target: &Target, text: &str) -> Found {
    match target.search([("assets/x.js", text)]) {
        Search::One(f) => f,
        other => panic!("{}: {other:?}", target.label),
    }
}

/// The known lines (Codex Desktop 26.519) and variants with every identifier renamed, as the
/// minifier does from release to release.
#[test]
fn the_fingerprints_match_the_known_lines_and_renamed_variants() {
    let picker = &TARGETS[0];
    for (line, first, last) in [
        (PICKER_LINE, "u", "d"),
        (
            "let Qe=$t.useHiddenModels&&_0!==`amazonBedrock`,x1;",
            "Qe",
            "x1",
        ),
        (
            "let $=a$b.useHiddenModels&&__!==`amazonBedrock`,Z;",
            "$",
            "Z",
        ),
    ] {
        let text = format!("function f(){{{line}return 1}}");
        let f = one(picker, &text);
        assert_eq!(f.before, line);
        assert_eq!(f.after.len(), line.len(), "same length");
        assert!(
            f.after
                .starts_with(&format!("let {first}=!1/*codex-shim*/"))
                && f.after.ends_with(&format!(",{last};")),
            "{}",
            f.after
        );
    }
    let sidebar = &TARGETS[1];
    let renamed = SIDEBAR_LINE
        .replace("cursor:e", "cursor:n")
        .replace("limit:t", "limit:r")
        .replace("sourceKinds:ke", "sourceKinds:Xe$");
    for line in [SIDEBAR_LINE.to_string(), renamed] {
        let f = one(sidebar, &format!("class A{{{line}other(){{}}}}"));
        assert_eq!(f.before, line);
        assert_eq!(f.after.len(), line.len());
        assert_eq!(
            f.after,
            line.replace("modelProviders:null", "modelProviders:[]  ")
        );
    }
}

#[test]
fn a_patched_bundle_is_recognised_as_already_patched() {
    for (target, line) in [(&TARGETS[0], PICKER_LINE), (&TARGETS[1], SIDEBAR_LINE)] {
        let text = format!("x;{line};y");
        let f = one(target, &text);
        let patched = format!("{}{}{}", &text[..f.start], f.after, &text[f.end..]);
        assert_eq!(
            target.search([("a.js", patched.as_str())]),
            Search::AlreadyPatched {
                file: "a.js".into()
            }
        );
    }
}

#[test]
fn absent_changed_or_repeated_code_is_refused_with_what_was_found() {
    let picker = &TARGETS[0];
    // Absent everywhere.
    let s = picker.search([("a.js", "nothing here")]);
    assert_eq!(s, Search::NotFound { similar: vec![] });
    assert!(picker
        .refusal(&s)
        .unwrap()
        .contains("no file mentions `useHiddenModels`"));
    // The code changed shape (another operator): the file that mentions it is named.
    let changed = "let u=c.useHiddenModels||o!==`amazonBedrock`,d;";
    let s = picker.search([("a.js", "x"), ("b.js", changed)]);
    assert_eq!(
        s,
        Search::NotFound {
            similar: vec!["b.js".into()]
        }
    );
    let msg = picker.refusal(&s).unwrap();
    assert!(
        msg.contains("appears in b.js") && msg.contains("nothing was changed"),
        "{msg}"
    );
    // Twice (in one file or in two): refused, both places named.
    let s = picker.search([("a.js", PICKER_LINE), ("b.js", PICKER_LINE)]);
    let Search::Many { places } = &s else {
        panic!("{s:?}")
    };
    assert_eq!(places.len(), 2);
    let msg = picker.refusal(&s).unwrap();
    assert!(
        msg.contains("2 times") && msg.contains("a.js") && msg.contains("b.js"),
        "{msg}"
    );
    // One patched and one not: also ambiguous.
    let f = one(picker, PICKER_LINE);
    let s = picker.search([("a.js", f.after.as_str()), ("b.js", PICKER_LINE)]);
    assert!(matches!(s, Search::Many { .. }), "{s:?}");
    // The sidebar filter with another provider value is not ours to touch.
    let other = SIDEBAR_LINE.replace("modelProviders:null", "modelProviders:p");
    assert!(matches!(
        TARGETS[1].search([("a.js", other.as_str())]),
        Search::NotFound { .. }
    ));
}
