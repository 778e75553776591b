//! The template language against what Go's text/template prints for the
//! same template and data (docker's `--format`).

use serde_json::{Value, json};

use super::template::Template;

fn render(t: &str, v: &Value) -> String {
    Template::parse(t)
        .and_then(|t| t.render(v))
        .unwrap_or_else(|e| format!("ERR {e}"))
}

#[test]
fn fields_functions_and_control() {
    let v = json!({"Id": "sha256:abc", "RepoTags": ["a:1", "b:2"], "Config": {"Env": ["A=1"], "Cmd": null, "Labels": {"z": "1", "a": "2"}}, "Size": 42});
    assert_eq!(render("{{.Id}}", &v), "sha256:abc");
    assert_eq!(render("{{.Config.Env}}", &v), "[A=1]");
    assert_eq!(render("{{.Config.Cmd}}", &v), "[]");
    assert_eq!(render("{{.Config.Labels}}", &v), "map[a:2 z:1]");
    assert_eq!(render("{{json .RepoTags}}", &v), r#"["a:1","b:2"]"#);
    assert_eq!(render("{{.RepoTags | json}}", &v), r#"["a:1","b:2"]"#);
    assert_eq!(render("{{join .RepoTags \",\"}}", &v), "a:1,b:2");
    assert_eq!(render("{{index .RepoTags 1}}", &v), "b:2");
    assert_eq!(render("{{(index .RepoTags 0)}}", &v), "a:1");
    assert_eq!(render("{{index .Config.Labels \"z\"}}", &v), "1");
    assert_eq!(
        render("{{range .RepoTags}}<{{.}}>{{end}}", &v),
        "<a:1><b:2>"
    );
    assert_eq!(
        render("{{range .Config.Cmd}}x{{else}}none{{end}}", &v),
        "none"
    );
    assert_eq!(render("{{if .Config.Cmd}}yes{{else}}no{{end}}", &v), "no");
    assert_eq!(render("{{with .Config}}{{len .Env}}{{end}}", &v), "1");
    assert_eq!(
        render("{{.Size}} {{upper \"x\"}} {{lower .Id}}", &v),
        "42 X sha256:abc"
    );
    assert_eq!(render("a  {{- .Size -}}  b", &v), "a42b");
    assert_eq!(render("{{truncate .Id 6}}", &v), "sha256");
    assert_eq!(render("{{$.Size}}", &v), "42");
    assert_eq!(render("{{/* a comment */}}x", &v), "x");
}

#[test]
fn comparisons_logic_and_variables() {
    let v = json!({"A": 2, "S": "b", "L": ["a", "b", "c"], "E": [], "M": {"y": 2, "x": 1}});
    assert_eq!(
        render(
            "{{if eq .A 1}}one{{else if eq .A 2}}two{{else}}many{{end}}",
            &v
        ),
        "two"
    );
    assert_eq!(
        render(
            "{{eq .A 1 2}} {{ne .S \"b\"}} {{lt 1 2}} {{le 2 2}} {{gt .A 3}} {{ge \"b\" \"a\"}}",
            &v
        ),
        "true false true true false true"
    );
    assert_eq!(
        render(
            "{{and 1 0 2}} {{or 0 \"\" \"x\"}} {{not .E}} {{and 1 2}}",
            &v
        ),
        "0 x true 2"
    );
    assert_eq!(render("{{$x := .A}}{{$x}}{{$x = 5}} {{$x}}", &v), "2 5");
    assert_eq!(
        render("{{range $i, $v := .L}}{{$i}}={{$v}} {{end}}", &v),
        "0=a 1=b 2=c "
    );
    assert_eq!(
        render("{{range $k, $v := .M}}{{$k}}:{{$v}};{{end}}", &v),
        "x:1;y:2;"
    );
    assert_eq!(render("{{range $v := .L}}{{$v}}{{end}}", &v), "abc");
    assert_eq!(render("{{with $x := .S}}{{$x}}{{.}}{{end}}", &v), "bb");
    assert_eq!(render("{{with .E}}x{{else with .S}}{{.}}{{end}}", &v), "b");
    assert_eq!(
        render(
            "{{range .L}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}",
            &v
        ),
        "a"
    );
    assert_eq!(
        render(
            "{{range .L}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}",
            &v
        ),
        "ac"
    );
    assert_eq!(render("{{range .L}}{{$.A}}{{end}}", &v), "222");
    assert_eq!(
        render(
            "{{len (slice .L 1)}} {{slice \"hello\" 1 3}} {{index .M \"y\"}}",
            &v
        ),
        "2 el 2"
    );
    assert!(
        render("{{eq .A \"2\"}}", &v).starts_with("ERR"),
        "Go refuses int == string"
    );
}

#[test]
fn printing_functions() {
    let v = json!({"N": 255, "F": 2.25, "S": "ab", "T": true});
    assert_eq!(
        render(
            "{{printf \"%-5s|%3d|%q|%x|%05.1f|%t|%v|%%\" .S 7 \"q\" .N .F .T .S}}",
            &v
        ),
        "ab   |  7|\"q\"|ff|002.2|true|ab|%"
    );
    assert_eq!(render("{{printf \"%d\" .S}}", &v), "%!d(string=ab)");
    assert_eq!(render("{{printf \"%s %s\" .S}}", &v), "ab %!s(MISSING)");
    assert_eq!(render("{{printf \"%.1s\" .S}}", &v), "a");
    assert_eq!(render("{{print 1 2 \"a\" 3}}", &v), "1 2a3");
    assert_eq!(render("{{println .S .N}}", &v), "ab 255\n");
    assert_eq!(
        render("{{title \"hello world\"}} {{pad .S 1 2}}|", &v),
        "Hello World  ab  |"
    );
    assert_eq!(render("{{split \"a,b\" \",\"}}", &v), "[a b]");
    assert_eq!(
        render("{{html \"<a&b>\"}} {{urlquery \"a b/c\"}}", &v),
        "&lt;a&amp;b&gt; a+b%2Fc"
    );
}

#[test]
fn ps_rows_have_the_label_method() {
    let row = json!({"Labels": "a=1,com.x=y"});
    assert_eq!(
        render("{{.Label \"com.x\"}}|{{.Label \"none\"}}", &row),
        "y|"
    );
}

#[test]
fn parse_and_run_errors_are_told_apart() {
    let v = json!({"A": 1});
    for bad in [
        "{{.A",
        "{{if .A}}x",
        "{{nosuch .A}}",
        "{{$nope}}",
        "{{end}}",
        "{{else}}",
        "{{break}}",
    ] {
        let e = Template::parse(bad)
            .err()
            .unwrap_or_else(|| panic!("{bad} parsed"));
        assert!(e.parse, "{bad}: {e}");
        assert!(
            e.to_string()
                .starts_with("template parsing error: template: :1: "),
            "{e}"
        );
    }
    let e = Template::parse("{{.B}}").unwrap().render(&v).unwrap_err();
    assert!(
        !e.parse && e.to_string().contains("can't evaluate field B"),
        "{e}"
    );
}

#[test]
fn go_durations() {
    use super::template_exec::go_duration;
    for (n, want) in [
        (0, "0s"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (500_000_000, "500ms"),
        (1_000_000_000, "1s"),
        (1_500_000_000, "1.5s"),
        (90_000_000_000, "1m30s"),
        (3_600_000_000_000, "1h0m0s"),
        (-2_000_000_000, "-2s"),
    ] {
        assert_eq!(go_duration(n), want, "{n}");
    }
}

#[test]
fn nil_pointers_print_as_go_prints_them() {
    // A container without a health check: docker's Config.Healthcheck and
    // State.Health are nil pointers (left out of the JSON), its Cmd a nil
    // slice.
    let v = json!({"Config": {"Cmd": null}, "State": {"Status": "running"}});
    assert_eq!(
        render(
            "{{.Config.Healthcheck}}|{{.State.Health}}|{{.Config.Cmd}}",
            &v
        ),
        "<nil>|<nil>|[]"
    );
    assert_eq!(
        render(
            "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}",
            &v
        ),
        "none"
    );
    assert_eq!(render("{{json .State.Health}}", &v), "null");
}
