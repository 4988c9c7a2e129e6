//! TensorBoard event files, written without TensorFlow: TFRecord framing (length,
//! masked CRC-32C of the length, payload, masked CRC-32C of the payload) around
//! hand-encoded `Event` protobufs holding scalar summaries.
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct EventWriter {
    path: PathBuf,
    file: File,
}

fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field: key, length, bytes.
fn bytes_field(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    varint(((field << 3) | 2) as u64, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// `Event { wall_time = 1 (double), step = 2 (int64), <payload> }`.
fn event(wall_time: f64, step: i64, payload: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = vec![(1 << 3) | 1];
    out.extend_from_slice(&wall_time.to_le_bytes());
    varint(2 << 3, &mut out);
    varint(step as u64, &mut out);
    payload(&mut out);
    out
}

impl EventWriter {
    /// Creates `dir/events.out.tfevents.<time>.plexus.<pid>` and writes the version record.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let path = dir.join(format!("events.out.tfevents.{}.plexus.{}", now.as_secs(), std::process::id()));
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut writer = Self { path, file };
        // Event.file_version = 3: TensorBoard requires it first.
        let record = event(now.as_secs_f64(), 0, |out| bytes_field(3, b"brain.Event:2", out));
        writer.write_record(&record)?;
        Ok(writer)
    }

    fn write_record(&mut self, data: &[u8]) -> Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        let mut frame = Vec::with_capacity(data.len() + 16);
        frame.extend_from_slice(&len);
        frame.extend_from_slice(&masked_crc(&len).to_le_bytes());
        frame.extend_from_slice(data);
        frame.extend_from_slice(&masked_crc(data).to_le_bytes());
        self.file.write_all(&frame).and_then(|_| self.file.flush()).map_err(|e| Error::io(&self.path, e))
    }

    /// One event holding `Summary { value: [{ tag, simple_value }] }` for each scalar.
    pub fn scalars(&mut self, step: i64, values: &[(String, f32)]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        let record = event(wall, step, |out| {
            let mut summary = Vec::new();
            for (tag, v) in values {
                let mut value = Vec::new();
                bytes_field(1, tag.as_bytes(), &mut value);
                value.push((2 << 3) | 5); // simple_value: float
                value.extend_from_slice(&v.to_le_bytes());
                bytes_field(1, &value, &mut summary);
            }
            bytes_field(5, &summary, out);
        });
        self.write_record(&record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_crc_matches_the_tfrecord_reference_value() {
        // CRC-32C("123456789") = 0xE3069283 (RFC 3720); masking rotates and offsets it.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(masked_crc(b"123456789"), 0xE306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8));
    }

    #[test]
    fn varints_encode_like_protobuf() {
        let mut out = Vec::new();
        varint(300, &mut out);
        assert_eq!(out, [0xAC, 0x02]);
    }
}
