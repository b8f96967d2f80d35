//! Host sizes: CPUs, memory and an optional disk, written `8C-32G-150G`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The planned size of a host. Shown as `8C-32G-150G`, or `8C-32G` without a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Size {
    pub cpu: u32,
    pub memory_gb: u32,
    pub disk_gb: Option<u32>,
}

/// Why a size string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {input:?}: {problem}; expected CPUs, memory in GB and an optional disk, like \"8C-32G-150G\" or \"8c32g\"")]
pub struct ParseSizeError {
    input: String,
    problem: String,
}

impl ParseSizeError {
    fn new(input: &str, problem: impl Into<String>) -> Self {
        Self { input: input.to_owned(), problem: problem.into() }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}C-{}G", self.cpu, self.memory_gb)?;
        if let Some(disk) = self.disk_gb {
            write!(f, "-{disk}G")?;
        }
        Ok(())
    }
}

/// One `<number><unit>` part of a size string, the unit lower-cased.
struct Part {
    number: u32,
    unit: String,
}

impl FromStr for Size {
    type Err = ParseSizeError;

    /// Reads `8C-32G-150G`, `8c32g`, `8C 32G`, `8c-32gb-2t` and the like: a CPU count with the unit `C`
    /// (or `cpu`, `core`), then memory in `G` (`GB`, `Gi`, `GiB`), then optionally a disk in `G` or `T`
    /// (terabytes, counted as 1024 GB). Parts may be separated by `-`, `_`, `,`, `/` or spaces.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let parts = split_parts(input)?;
        let [cpu, memory, rest @ ..] = parts.as_slice() else {
            return Err(ParseSizeError::new(input, if parts.is_empty() { "it is empty" } else { "the memory part is missing" }));
        };
        if rest.len() > 1 {
            return Err(ParseSizeError::new(input, "it has more than three parts"));
        }
        if !matches!(cpu.unit.as_str(), "c" | "cpu" | "cpus" | "core" | "cores") {
            return Err(ParseSizeError::new(input, format!("the first part must be the CPU count with unit C, found unit {:?}", cpu.unit)));
        }
        let memory_gb = gigabytes(input, memory, "memory", false)?;
        let disk_gb = rest.first().map(|disk| gigabytes(input, disk, "disk", true)).transpose()?;
        if cpu.number == 0 {
            return Err(ParseSizeError::new(input, "the CPU count is 0"));
        }
        if memory_gb == 0 {
            return Err(ParseSizeError::new(input, "the memory is 0"));
        }
        if disk_gb == Some(0) {
            return Err(ParseSizeError::new(input, "the disk is 0"));
        }
        Ok(Size { cpu: cpu.number, memory_gb, disk_gb })
    }
}

fn gigabytes(input: &str, part: &Part, what: &str, allow_tera: bool) -> Result<u32, ParseSizeError> {
    match part.unit.as_str() {
        "g" | "gb" | "gi" | "gib" => Ok(part.number),
        "t" | "tb" | "ti" | "tib" if allow_tera => {
            part.number.checked_mul(1024).ok_or_else(|| ParseSizeError::new(input, format!("the {what} is too large")))
        }
        unit => Err(ParseSizeError::new(
            input,
            format!("the {what} must be in G{}, found unit {unit:?}", if allow_tera { " or T" } else { "" }),
        )),
    }
}

/// Splits `8C-32G-150G` into (8, "c"), (32, "g"), (150, "g"); units are lower-cased.
fn split_parts(input: &str) -> Result<Vec<Part>, ParseSizeError> {
    let lower = input.to_ascii_lowercase();
    let mut parts = Vec::new();
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() || matches!(b, b'-' | b'_' | b',' | b'/') {
            i += 1;
            continue;
        }
        if !b.is_ascii_digit() {
            let found: String = lower[i..].chars().take_while(|c| !c.is_ascii_digit()).collect();
            return Err(ParseSizeError::new(input, format!("expected a number, found {:?}", found.trim())));
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let number: u32 =
            lower[start..i].parse().map_err(|_| ParseSizeError::new(input, format!("the number {} is too large", &lower[start..i])))?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        if unit_start == i {
            return Err(ParseSizeError::new(input, format!("the number {number} has no unit (C, G or T)")));
        }
        parts.push(Part { number, unit: lower[unit_start..i].to_owned() });
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(cpu: u32, memory_gb: u32, disk_gb: Option<u32>) -> Size {
        Size { cpu, memory_gb, disk_gb }
    }

    #[test]
    fn parses_canonical_and_lenient_forms() {
        assert_eq!("8C-32G-150G".parse(), Ok(size(8, 32, Some(150))));
        assert_eq!("8c32g".parse(), Ok(size(8, 32, None)));
        assert_eq!("8c32g150g".parse(), Ok(size(8, 32, Some(150))));
        assert_eq!(" 2C 4GB 50GiB ".parse(), Ok(size(2, 4, Some(50))));
        assert_eq!("16cores/64Gi/2T".parse(), Ok(size(16, 64, Some(2048))));
        assert_eq!("4cpu_8g".parse(), Ok(size(4, 8, None)));
    }

    #[test]
    fn displays_canonically_and_round_trips() {
        assert_eq!(size(8, 32, Some(150)).to_string(), "8C-32G-150G");
        assert_eq!(size(8, 32, None).to_string(), "8C-32G");
        for s in ["8C-32G-150G", "2C-4G", "1C-1G-1G"] {
            assert_eq!(s.parse::<Size>().map(|z| z.to_string()).as_deref(), Ok(s));
        }
    }

    #[test]
    fn rejects_bad_sizes_with_a_reason() {
        let cases = [
            ("", "it is empty"),
            ("8C", "the memory part is missing"),
            ("32G-8C", "the first part must be the CPU count"),
            ("8C-32T", "the memory must be in G, found unit \"t\""),
            ("8C-32G-1X", "the disk must be in G or T, found unit \"x\""),
            ("8C-32G-150G-1G", "more than three parts"),
            ("8-32G", "the number 8 has no unit"),
            ("eight cores", "expected a number, found \"eight cores\""),
            ("0C-32G", "the CPU count is 0"),
            ("8C-0G", "the memory is 0"),
            ("8C-32G-0G", "the disk is 0"),
            ("99999999999C-1G", "too large"),
            ("1C-1G-9999999T", "the disk is too large"),
        ];
        for (input, reason) in cases {
            let err = input.parse::<Size>().expect_err(input).to_string();
            assert!(err.contains(reason), "{input:?}: {err}");
            assert!(err.contains("like \"8C-32G-150G\""), "{input:?}: {err}");
        }
    }
}
