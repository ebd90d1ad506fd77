//! Just enough XML for S3's bodies: a writer (escaped text, no
//! attributes but the namespace) and a reader of element trees (the
//! request bodies of DeleteObjects, CompleteMultipartUpload,
//! PutBucketNotificationConfiguration, PutObjectTagging, …) that ignores
//! namespaces, comments, processing instructions and attributes.

/// S3's XML namespace.
pub const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds an XML document.
pub struct XmlWriter {
    out: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// A document with its declaration.
    pub fn new() -> Self {
        Self {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        }
    }

    /// Opens `name` carrying S3's namespace (a response's root).
    pub fn root(&mut self, name: &str) {
        self.out.push_str(&format!("<{name} xmlns=\"{NS}\">"));
    }

    /// Opens `name`.
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Closes `name`.
    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>text</name>`.
    pub fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        escape_into(&mut self.out, text);
        self.close(name);
    }

    /// Appends markup as is.
    pub fn out_raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    /// The document.
    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// An element: its local name, children and text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The local name (namespace prefix dropped).
    pub name: String,
    /// Child elements, in order.
    pub children: Vec<Element>,
    /// The text directly inside it, unescaped.
    pub text: String,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// Parses a document into its root element; `None` if it is not
/// well-formed.
pub fn parse(doc: &str) -> Option<Element> {
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut rest = doc;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            if let Some(r) = after.strip_prefix("!--") {
                rest = &r[r.find("-->")? + 3..];
            } else if let Some(r) = after.strip_prefix("![CDATA[") {
                let end = r.find("]]>")?;
                stack.last_mut()?.text.push_str(&r[..end]);
                rest = &r[end + 3..];
            } else if after.starts_with('?') || after.starts_with('!') {
                rest = &after[after.find('>')? + 1..];
            } else if let Some(r) = after.strip_prefix('/') {
                let end = r.find('>')?;
                let name = local(r[..end].trim());
                let done = stack.pop()?;
                if done.name != name {
                    return None;
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
                rest = &r[end + 1..];
            } else {
                let end = after.find('>')?;
                let tag = &after[..end];
                let (tag, empty) = match tag.strip_suffix('/') {
                    Some(t) => (t, true),
                    None => (tag, false),
                };
                let name = local(tag.split_whitespace().next()?).to_string();
                if root.is_some() {
                    return None;
                }
                let el = Element {
                    name,
                    ..Element::default()
                };
                if empty {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                } else {
                    stack.push(el);
                }
                rest = &after[end + 1..];
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = unescape(&rest[..end])?;
            match stack.last_mut() {
                Some(el) => el.text.push_str(&text),
                None if text.trim().is_empty() => {}
                None => return None,
            }
            rest = &rest[end..];
        }
    }
    if !stack.is_empty() {
        return None;
    }
    root
}

/// A request body's bytes as the text of an XML document; bytes that are
/// not UTF-8 are `MalformedXML`.
pub(crate) fn doc_text(doc: &[u8]) -> Result<&str, crate::error::S3Error> {
    std::str::from_utf8(doc).map_err(|_| crate::error::S3Error::malformed_xml())
}

/// The root element of a request's document, which must be named `name`;
/// a document not well-formed, or with another root, is `MalformedXML`.
pub(crate) fn parse_root(text: &str, name: &str) -> Result<Element, crate::error::S3Error> {
    parse(text)
        .filter(|r| r.name == name)
        .ok_or_else(crate::error::S3Error::malformed_xml)
}

/// The children of `parent` named `name`, each read by `read`: one to
/// `max` of them, else `MalformedXML` (a configuration's rules).
pub(crate) fn one_to_max<T>(
    parent: &Element,
    name: &str,
    max: usize,
    read: impl Fn(&Element) -> Result<T, crate::error::S3Error>,
) -> Result<Vec<T>, crate::error::S3Error> {
    let items = parent.all(name).map(read).collect::<Result<Vec<_>, _>>()?;
    if items.is_empty() || items.len() > max {
        return Err(crate::error::S3Error::malformed_xml());
    }
    Ok(items)
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let r = &rest[i + 1..];
        let end = r.find(';')?;
        let entity = &r[..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e => {
                let code = if let Some(h) = e.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).ok()?
                } else {
                    e.strip_prefix('#')?.parse().ok()?
                };
                char::from_u32(code)?
            }
        };
        out.push(c);
        rest = &r[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_delete_body() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a &amp; b</Key></Object><Object><Key>c&#x20;d</Key><VersionId/></Object><Quiet>true</Quiet></Delete>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Delete");
        let keys: Vec<_> = root
            .all("Object")
            .map(|o| o.text_of("Key").unwrap().to_string())
            .collect();
        assert_eq!(keys, ["a & b", "c d"]);
        assert_eq!(root.text_of("Quiet"), Some("true"));
    }

    #[test]
    fn refuses_what_is_not_well_formed() {
        assert_eq!(parse("<a><b></a>"), None);
        assert_eq!(parse("<a>"), None);
        assert_eq!(parse("<a></a><b></b>"), None);
        assert_eq!(parse("<a>&bogus;</a>"), None);
    }
}
