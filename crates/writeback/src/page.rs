//! A small streaming reader of one Graph page: `{"value": [ device, device, ... ],
//! "@odata.nextLink": "..."}` (or a bare array of devices), any other keys skipped.
//!
//! It finds where each element of `value` starts and ends with a byte scanner (strings and
//! escapes understood, nesting counted) working on the reader's buffer in bulk, and hands each
//! element's bytes to serde_json's fast slice parser. Memory is one element at a time, so a
//! page of a million devices streams. Compared with serde_json's reader-based deserializer over
//! the whole page this is about three times faster (benches/source_stream.rs), and it has a
//! useful property: an element that is not valid JSON inside balanced brackets is one bad
//! record, not the end of the file.
//!
//! What it does not do: validate the JSON outside the elements beyond its structure (keys,
//! colons, commas, brackets). Errors name the line and column.

use std::io::BufRead;

use crate::error::WritebackError;

/// What the scanner found in one page.
#[derive(Debug, Default)]
pub(crate) struct PageShape {
    /// Whether a `value` array (or a bare array) was found.
    pub saw_value: bool,
    /// The `@odata.nextLink`, when present and not null.
    pub next_link: Option<String>,
}

/// One element of `value`: its bytes and the line it starts on.
pub(crate) struct Element<'b> {
    pub bytes: &'b [u8],
    pub line: u64,
}

pub(crate) struct PageScanner<'n, R> {
    name: &'n str,
    reader: R,
    line: u64,
    column: u64,
}

impl<'n, R: BufRead> PageScanner<'n, R> {
    pub(crate) fn new(name: &'n str, reader: R) -> PageScanner<'n, R> {
        PageScanner {
            name,
            reader,
            line: 1,
            column: 1,
        }
    }

    fn error(&self, message: impl Into<String>) -> WritebackError {
        WritebackError::Json {
            file: self.name.to_owned(),
            line: self.line as usize,
            column: self.column as usize,
            message: message.into(),
        }
    }

    fn io(&self, error: std::io::Error) -> WritebackError {
        WritebackError::Io {
            path: self.name.into(),
            source: error,
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, WritebackError> {
        match self.reader.fill_buf() {
            Ok(buf) => Ok(buf.first().copied()),
            Err(error) => Err(self.io(error)),
        }
    }

    fn advance(&mut self, consumed: &[u8]) {
        // Counted in bulk (the compiler vectorises both scans): this runs over every byte of
        // the export.
        let newlines = consumed.iter().filter(|&&b| b == b'\n').count() as u64;
        let last_newline = match newlines {
            0 => None,
            _ => consumed.iter().rposition(|&b| b == b'\n'),
        };
        match last_newline {
            Some(last) => {
                self.line += newlines;
                self.column = (consumed.len() - last) as u64;
            }
            None => self.column += consumed.len() as u64,
        }
    }

    fn bump(&mut self) -> Result<Option<u8>, WritebackError> {
        let next = self.peek()?;
        if let Some(b) = next {
            self.advance(&[b]);
            self.reader.consume(1);
        }
        Ok(next)
    }

    fn skip_whitespace(&mut self) -> Result<Option<u8>, WritebackError> {
        while let Some(b) = self.peek()? {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(Some(b));
            }
            self.bump()?;
        }
        Ok(None)
    }

    fn expect(&mut self, wanted: u8, context: &str) -> Result<(), WritebackError> {
        match self.skip_whitespace()? {
            Some(b) if b == wanted => {
                self.bump()?;
                Ok(())
            }
            Some(b) => Err(self.error(format!(
                "expected '{}' {context}, found '{}'",
                wanted as char,
                (b as char).escape_default()
            ))),
            None => Err(self.error(format!(
                "expected '{}' {context}, found the end of the file",
                wanted as char
            ))),
        }
    }

    /// Copies one complete JSON value (object, array, string or scalar) into `out`, scanning the
    /// buffer in bulk. Validates nesting and strings only; serde_json checks the rest.
    fn capture_value(&mut self, out: &mut Vec<u8>) -> Result<(), WritebackError> {
        out.clear();
        let first = match self.skip_whitespace()? {
            Some(b) => b,
            None => return Err(self.error("expected a value, found the end of the file")),
        };
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut started = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(error) => return Err(self.io(error)),
            };
            if buf.is_empty() {
                if scalar && started {
                    return Ok(());
                }
                return Err(self.error("the file ends inside a value"));
            }
            let mut end = None;
            let mut i = 0;
            while i < buf.len() {
                let b = buf[i];
                i += 1;
                if scalar {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        end = Some(i - 1);
                        break;
                    }
                    started = true;
                    continue;
                }
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    } else {
                        // Most of an export is text inside strings: jump to the next quote or
                        // backslash instead of walking the state machine byte by byte.
                        i += find_quote_or_backslash(&buf[i..]).unwrap_or(buf.len() - i);
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
                started = true;
            }
            let take = end.unwrap_or(buf.len());
            let start = out.len();
            out.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            self.advance(&out[start..]);
            if end.is_some() {
                return Ok(());
            }
        }
    }

    /// Walks the page, calling `element` for each element of `value` in order.
    pub(crate) fn scan(
        &mut self,
        element: &mut dyn FnMut(Element<'_>),
    ) -> Result<PageShape, WritebackError> {
        let mut shape = PageShape::default();
        let mut buffer = Vec::new();
        match self.skip_whitespace()? {
            Some(b'[') => {
                shape.saw_value = true;
                self.elements(&mut buffer, element)?;
            }
            Some(b'{') => {
                self.bump()?;
                self.object(&mut shape, &mut buffer, element)?;
            }
            Some(b) => {
                return Err(self.error(format!(
                    "expected a Graph page object or an array of devices, found '{}'",
                    (b as char).escape_default()
                )))
            }
            None => return Err(self.error("the file is empty")),
        }
        if let Some(b) = self.skip_whitespace()? {
            return Err(self.error(format!(
                "trailing characters after the page, starting with '{}'",
                (b as char).escape_default()
            )));
        }
        Ok(shape)
    }

    fn object(
        &mut self,
        shape: &mut PageShape,
        buffer: &mut Vec<u8>,
        element: &mut dyn FnMut(Element<'_>),
    ) -> Result<(), WritebackError> {
        if self.skip_whitespace()? == Some(b'}') {
            self.bump()?;
            return Ok(());
        }
        loop {
            if self.skip_whitespace()? != Some(b'"') {
                return Err(self.error("expected a key in double quotes"));
            }
            self.capture_value(buffer)?;
            let key: String = serde_json::from_slice(buffer)
                .map_err(|e| self.error(format!("a key that is not a JSON string: {e}")))?;
            self.expect(b':', "after a key")?;
            match key.as_str() {
                "value" => {
                    if self.skip_whitespace()? != Some(b'[') {
                        return Err(self.error("\"value\" must be an array of devices"));
                    }
                    shape.saw_value = true;
                    self.elements(buffer, element)?;
                }
                "@odata.nextLink" => {
                    self.capture_value(buffer)?;
                    shape.next_link = serde_json::from_slice::<Option<String>>(buffer)
                        .map_err(|e| self.error(format!("@odata.nextLink is not a string: {e}")))?;
                }
                _ => self.capture_value(buffer)?,
            }
            match self.skip_whitespace()? {
                Some(b',') => {
                    self.bump()?;
                }
                Some(b'}') => {
                    self.bump()?;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or '}' after a value of the page")),
            }
        }
    }

    fn elements(
        &mut self,
        buffer: &mut Vec<u8>,
        element: &mut dyn FnMut(Element<'_>),
    ) -> Result<(), WritebackError> {
        self.expect(b'[', "to open the array of devices")?;
        if self.skip_whitespace()? == Some(b']') {
            self.bump()?;
            return Ok(());
        }
        loop {
            self.skip_whitespace()?;
            let line = self.line;
            self.capture_value(buffer)?;
            element(Element {
                bytes: buffer,
                line,
            });
            match self.skip_whitespace()? {
                Some(b',') => {
                    self.bump()?;
                }
                Some(b']') => {
                    self.bump()?;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or ']' after a device")),
            }
        }
    }
}

/// The position of the first `"` or `\` in `bytes`, looked for eight bytes at a time.
fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    // Non-zero when some byte of `word` equals `byte` (the classic "has a zero byte" test on
    // `word ^ byte repeated`): exact about whether, not about where.
    let has = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGH_BITS
    };
    let is_wanted = |b: &u8| *b == b'"' || *b == b'\\';
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(std::array::from_fn(|k| chunk[k]));
        if has(word, b'"') | has(word, b'\\') != 0 {
            return chunk.iter().position(is_wanted).map(|at| offset + at);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(is_wanted)
        .map(|at| offset + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_are_found_at_every_position_and_alignment() {
        for len in 0..40 {
            for at in 0..len {
                for wanted in [b'"', b'\\'] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = wanted;
                    if at + 1 < len {
                        bytes[at + 1] = b'"';
                    }
                    assert_eq!(find_quote_or_backslash(&bytes), Some(at), "{len} {at}");
                }
            }
            assert_eq!(find_quote_or_backslash(&vec![0x80 | b'"'; len]), None);
        }
    }
}
