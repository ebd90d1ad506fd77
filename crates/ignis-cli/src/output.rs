//! What the commands print: the one-line error, JSON, aligned tables.

use std::io::{self, Write};

use serde::Serialize;

/// `error: <message>` on one line, the causes joined with `: `.
pub fn error_line(err: &anyhow::Error) -> String {
    let message = format!("{err:#}");
    let message: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    format!("error: {}", message.join(" "))
}

/// Whether the error is stdout closing early (`ignis logs | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// Writes `text` to stdout.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `bytes` to stdout, with a newline after them unless they end in one.
pub fn print_bytes(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Writes `value` as pretty JSON to stdout.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    Ok(print(&format!("{text}\n"))?)
}

/// Left-aligned columns under `header`, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("{}\n", cells.join("  ").trim_end())
        })
        .collect()
}

/// `key  value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

/// A byte count for people: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_line_joins_causes_on_one_line() {
        let io = io::Error::new(io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(io).context("failed to read fn.zip");
        assert_eq!(
            error_line(&err),
            "error: failed to read fn.zip: no such file"
        );
        let err = anyhow::anyhow!("first\n  second\n");
        assert_eq!(error_line(&err), "error: first second");
    }

    #[test]
    fn client_errors_print_as_they_display() {
        let err = ignis_client::ClientError::Api {
            kind: "ResourceNotFoundException".into(),
            message: "Function not found: arn:x".into(),
            status: 404,
        };
        assert_eq!(
            error_line(&err.into()),
            "error: ResourceNotFoundException: Function not found: arn:x"
        );
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("print");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            vec!["hello".into(), "1".into()],
            vec!["x".into(), "128".into()],
        ];
        assert_eq!(
            table(&["NAME", "MB"], &rows),
            "NAME   MB\nhello  1\nx      128\n"
        );
    }

    #[test]
    fn sizes_are_readable() {
        assert_eq!(size(10), "10 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
    }
}
