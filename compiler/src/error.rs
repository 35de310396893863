//! Compile errors: what went wrong and where (file, byte offset), as one line.

use std::fmt;

#[derive(Debug)]
pub struct CompileError {
    pub file: String,
    pub offset: Option<usize>,
    pub message: String,
}

impl CompileError {
    pub fn new(file: &str, offset: Option<usize>, message: impl Into<String>) -> CompileError {
        CompileError {
            file: file.to_string(),
            offset,
            message: message.into(),
        }
    }

    pub fn from_wasmparser(file: &str, e: &wasmparser::BinaryReaderError) -> CompileError {
        CompileError::new(file, Some(e.offset() as usize), e.message().to_string())
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{}: byte 0x{:x}: {}", self.file, o, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for CompileError {}
