//! `.helmignore` with Helm's matching rules (`pkg/ignore`).
//!
//! Rules are gitignore-like globs matched with Go's `filepath.Match`: a rule without `/`
//! matches a path's base name, a rule with `/` the whole path relative to the chart root, a
//! leading `/` anchors at the root, a trailing `/` matches only directories, `!` negates, and
//! `**` is refused. Helm's own quirk is kept: a negated rule that does *not* match a path
//! ignores that path. `templates/.?*` is always added (dot-files in templates/ are ignored).

/// A parsed `.helmignore`.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    rule: String,
    negate: bool,
    must_dir: bool,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Anchored,
    Path,
    Base,
}

impl Rules {
    /// No rules at all.
    pub fn empty() -> Rules {
        Rules::default()
    }

    /// Parses a `.helmignore` text; the error names the 1-based line.
    pub fn parse(text: &str) -> Result<Rules, (usize, String)> {
        let mut r = Rules::empty();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, line) in text.lines().enumerate() {
            r.add(line).map_err(|e| (i + 1, e))?;
        }
        Ok(r)
    }

    /// Adds Helm's default rule `templates/.?*`.
    pub fn add_defaults(&mut self) {
        self.add("templates/.?*")
            .expect("the default rule is valid");
    }

    fn add(&mut self, rule: &str) -> Result<(), String> {
        let rule = rule.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err("double-star (**) syntax is not supported".into());
        }
        go_match(rule, "abc").map_err(|e| e.to_string())?;
        let mut rule = rule;
        let negate = if let Some(r) = rule.strip_prefix('!') {
            rule = r;
            true
        } else {
            false
        };
        let must_dir = if let Some(r) = rule.strip_suffix('/') {
            rule = r;
            true
        } else {
            false
        };
        let (rule, kind) = if let Some(r) = rule.strip_prefix('/') {
            (r, Kind::Anchored)
        } else if rule.contains('/') {
            (rule, Kind::Path)
        } else {
            (rule, Kind::Base)
        };
        self.patterns.push(Pattern {
            rule: rule.to_string(),
            negate,
            must_dir,
            kind,
        });
        Ok(())
    }

    /// Whether `path` (relative to the chart root, `/`-separated) is ignored.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let matched = p.matches(path);
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !matched {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        let target = match self.kind {
            Kind::Anchored | Kind::Path => path,
            Kind::Base => path.rsplit('/').next().unwrap_or(path),
        };
        go_match(&self.rule, target).unwrap_or(false)
    }
}

/// The pattern error of Go's `filepath.Match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPattern;

impl std::fmt::Display for BadPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

/// Go's `path/filepath.Match` on `/`-separated names: `*` and `?` do not cross `/`, `[...]`
/// classes with `^` negation and ranges, `\` escapes.
pub fn go_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let pat: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let r = match_from(&pat, &name)?;
    if !r {
        // Go validates the rest of the pattern even when the match failed early.
        validate(&pat)?;
    }
    Ok(r)
}

fn validate(pat: &[char]) -> Result<(), BadPattern> {
    let mut i = 0;
    while i < pat.len() {
        match pat[i] {
            '\\' => {
                if i + 1 >= pat.len() {
                    return Err(BadPattern);
                }
                i += 2;
            }
            '[' => {
                let (_, next) = class(pat, i, None)?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Matches a class at `pat[i] == '['` against `c` (or only validates with `None`); returns
/// whether it matched and the index after the class.
fn class(pat: &[char], mut i: usize, c: Option<char>) -> Result<(bool, usize), BadPattern> {
    i += 1;
    let mut negated = false;
    if i < pat.len() && pat[i] == '^' {
        negated = true;
        i += 1;
    }
    let mut matched = false;
    let mut n = 0;
    loop {
        if i < pat.len() && pat[i] == ']' && n > 0 {
            i += 1;
            break;
        }
        let lo = escaped(pat, &mut i)?;
        let mut hi = lo;
        if i < pat.len() && pat[i] == '-' {
            i += 1;
            hi = escaped(pat, &mut i)?;
        }
        if let Some(c) = c
            && lo <= c
            && c <= hi
        {
            matched = true;
        }
        n += 1;
    }
    Ok((matched != negated, i))
}

fn escaped(pat: &[char], i: &mut usize) -> Result<char, BadPattern> {
    if *i >= pat.len() || pat[*i] == '-' || pat[*i] == ']' {
        return Err(BadPattern);
    }
    if pat[*i] == '\\' {
        *i += 1;
        if *i >= pat.len() {
            return Err(BadPattern);
        }
    }
    let c = pat[*i];
    *i += 1;
    Ok(c)
}

fn match_from(pat: &[char], name: &[char]) -> Result<bool, BadPattern> {
    if pat.is_empty() {
        return Ok(name.is_empty());
    }
    match pat[0] {
        '*' => {
            let mut k = 1;
            while k < pat.len() && pat[k] == '*' {
                k += 1;
            }
            let rest = &pat[k..];
            let mut j = 0;
            loop {
                if match_from(rest, &name[j..])? {
                    return Ok(true);
                }
                if j >= name.len() || name[j] == '/' {
                    return Ok(false);
                }
                j += 1;
            }
        }
        '?' => {
            if name.is_empty() || name[0] == '/' {
                validate(&pat[1..])?;
                return Ok(false);
            }
            match_from(&pat[1..], &name[1..])
        }
        '[' => {
            let Some(&c) = name.first() else {
                class(pat, 0, None)?;
                return Ok(false);
            };
            let (m, next) = class(pat, 0, Some(c))?;
            if !m || c == '/' {
                return Ok(false);
            }
            match_from(&pat[next..], &name[1..])
        }
        '\\' => {
            if pat.len() < 2 {
                return Err(BadPattern);
            }
            if name.first() == Some(&pat[1]) {
                match_from(&pat[2..], &name[1..])
            } else {
                Ok(false)
            }
        }
        c => {
            if name.first() == Some(&c) {
                match_from(&pat[1..], &name[1..])
            } else {
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_match_basics() {
        assert!(go_match("*.txt", "a.txt").unwrap());
        assert!(!go_match("*.txt", "d/a.txt").unwrap());
        assert!(go_match("a?c", "abc").unwrap());
        assert!(go_match("[a-c]x", "bx").unwrap());
        assert!(go_match("[^a-c]x", "dx").unwrap());
        assert!(go_match("a\\*", "a*").unwrap());
        assert_eq!(go_match("[", "a"), Err(BadPattern));
    }

    #[test]
    fn rules_follow_helm() {
        let mut r = Rules::parse("# comment\n*.txt\n/top.md\nsecret/\ndocs/*.md\n").unwrap();
        r.add_defaults();
        assert!(r.ignore("a.txt", false));
        assert!(r.ignore("sub/a.txt", false));
        assert!(r.ignore("top.md", false));
        assert!(!r.ignore("sub/top.md", false));
        assert!(r.ignore("secret", true));
        assert!(!r.ignore("secret", false));
        assert!(r.ignore("docs/x.md", false));
        assert!(r.ignore("templates/.hidden", false));
        assert!(!r.ignore("templates/ok.yaml", false));
    }

    #[test]
    fn negation_quirk_and_double_star() {
        let r = Rules::parse("!keep.txt\n").unwrap();
        // Helm: a negated rule that does not match ignores the path
        assert!(r.ignore("other.txt", false));
        assert!(!r.ignore("keep.txt", false));
        assert_eq!(
            Rules::parse("a\n**/b\n").unwrap_err(),
            (2, "double-star (**) syntax is not supported".to_string())
        );
    }
}
