//! The targets `aot` compiles for, and everything that differs between them.

use std::fmt;
use std::str::FromStr;

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use target_lexicon::{Architecture, Triple};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

/// A supported target. Every output is a static Linux executable (musl libc inside), so
/// `-linux-gnu` and `-linux-musl` spellings of a target produce the same file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub arch: Arch,
    pub triple: Triple,
}

impl Target {
    pub fn host() -> Target {
        #[cfg(target_arch = "aarch64")]
        let arch = Arch::Aarch64;
        #[cfg(not(target_arch = "aarch64"))]
        let arch = Arch::X86_64;
        Target::for_arch(arch)
    }

    pub fn for_arch(arch: Arch) -> Target {
        let s = match arch {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
        };
        Target {
            arch,
            triple: Triple::from_str(s).expect("built-in triple parses"),
        }
    }

    /// The Rust target whose runtime archive and C library the output links.
    pub fn musl_triple(&self) -> &'static str {
        match self.arch {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// The architecture as the compiler-runtime contract names it.
    pub fn abi_arch(&self) -> aot_abi::Arch {
        match self.arch {
            Arch::X86_64 => aot_abi::Arch::X86_64,
            Arch::Aarch64 => aot_abi::Arch::Aarch64,
        }
    }

    pub fn is_host(&self) -> bool {
        *self == Target::host()
    }

    /// The Cranelift ISA every object for this target is built with. `opt_level`: 0 = none,
    /// 1 = speed and size, 2 = speed (Cranelift's fastest code; the default, where codegen
    /// also inlines tiny functions).
    /// Position-independent code (the objects link into static and static-pie executables
    /// alike), frame pointers kept (backtraces walk the FP chain), no unwind tables (traps
    /// never unwind through Wasm frames), inline stack probes of every 4 KiB page of a frame
    /// larger than one (most functions check no stack limit: an overflow faults in the guard
    /// below the stack, which a large frame must not step over; see
    /// `runtime-lib/src/signals.rs`), verifier in debug builds only. x86_64 code assumes x86-64-v2
    /// (SSE4.2, POPCNT, CMPXCHG16B), which every x86_64 machine of the last decade has; it
    /// keeps float rounding and popcnt inline instead of calls into libm.
    pub fn isa(&self, opt_level: u8) -> Result<OwnedTargetIsa, String> {
        self.isa_for_cpu(opt_level, Cpu::Default, false)
    }

    /// [`Target::isa`] for a chosen CPU level (see [`Cpu`]).
    /// `pinned_reg`: reserve Cranelift's pinned register (x86_64 `r15`, aarch64 `x21`, both
    /// callee-saved in the platform's convention) for `get_pinned_reg`/`set_pinned_reg`.
    pub fn isa_for_cpu(
        &self,
        opt_level: u8,
        cpu: Cpu,
        pinned_reg: bool,
    ) -> Result<OwnedTargetIsa, String> {
        let mut flags = settings::builder();
        let opt = match opt_level {
            0 => "none",
            1 => "speed_and_size",
            _ => "speed",
        };
        let verifier = if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        };
        for (name, value) in [
            ("opt_level", opt),
            ("is_pic", "true"),
            ("preserve_frame_pointers", "true"),
            ("enable_multi_ret_implicit_sret", "true"),
            ("unwind_info", "false"),
            ("enable_verifier", verifier),
            ("enable_probestack", "true"),
            ("probestack_strategy", "inline"),
            ("probestack_size_log2", "12"),
            (
                "enable_pinned_reg",
                if pinned_reg { "true" } else { "false" },
            ),
        ] {
            flags
                .set(name, value)
                .map_err(|e| format!("cranelift setting {name}={value}: {e}"))?;
        }
        let mut builder = cranelift_codegen::isa::lookup(self.triple.clone())
            .map_err(|e| format!("no code generator for {self}: {e}"))?;
        if cpu == Cpu::Native {
            if !self.is_host() {
                return Err(format!(
                    "--cpu native needs the target to be the host, not {self}"
                ));
            }
            builder = cranelift_native::builder_with_options(true)
                .map_err(|e| format!("cannot detect the host CPU: {e}"))?;
        } else if self.arch == Arch::X86_64 {
            let mut features = vec!["sse42", "has_popcnt", "has_cmpxchg16b"];
            if cpu == Cpu::X86_64V3 {
                features.extend([
                    "has_avx",
                    "has_avx2",
                    "has_bmi1",
                    "has_bmi2",
                    "has_fma",
                    "has_lzcnt",
                ]);
            }
            for feature in features {
                builder
                    .enable(feature)
                    .map_err(|e| format!("x86_64 feature {feature}: {e}"))?;
            }
        }
        builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| format!("code generator for {self}: {e}"))
    }
}

/// Which CPU the generated code may assume.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cpu {
    /// x86-64-v2 on x86_64 (SSE4.2, POPCNT: every x86_64 machine of the last decade),
    /// ARMv8.0-A on aarch64.
    #[default]
    Default,
    /// x86-64-v3: adds AVX2, BMI1/2, FMA, LZCNT (Haswell, 2013, and later; not every Atom).
    X86_64V3,
    /// Whatever the machine running `aot` has; only when compiling for the host.
    Native,
}

impl FromStr for Cpu {
    type Err = String;

    fn from_str(s: &str) -> Result<Cpu, String> {
        match s {
            "default" | "x86-64-v2" | "generic" => Ok(Cpu::Default),
            "x86-64-v3" => Ok(Cpu::X86_64V3),
            "native" => Ok(Cpu::Native),
            _ => Err(format!(
                "unknown CPU `{s}`: expected default, x86-64-v2, x86-64-v3 or native"
            )),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.triple)
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        const SUPPORTED: &str =
            "x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu (or their -musl forms)";
        let triple = Triple::from_str(s)
            .map_err(|e| format!("unknown target triple `{s}`: {e}; supported: {SUPPORTED}"))?;
        let arch = match triple.architecture {
            Architecture::X86_64 => Arch::X86_64,
            Architecture::Aarch64(_) => Arch::Aarch64,
            _ => return Err(format!("unsupported target `{s}`; supported: {SUPPORTED}")),
        };
        if triple.operating_system != target_lexicon::OperatingSystem::Linux {
            return Err(format!(
                "unsupported target `{s}`: only Linux is supported; supported: {SUPPORTED}"
            ));
        }
        Ok(Target::for_arch(arch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_and_rejects_others() {
        assert_eq!(
            "aarch64-unknown-linux-gnu"
                .parse::<Target>()
                .map(|t| t.arch),
            Ok(Arch::Aarch64)
        );
        assert_eq!(
            "x86_64-unknown-linux-musl"
                .parse::<Target>()
                .map(|t| t.arch),
            Ok(Arch::X86_64)
        );
        assert!("riscv64gc-unknown-linux-gnu".parse::<Target>().is_err());
        assert!("x86_64-apple-darwin".parse::<Target>().is_err());
        assert!("banana".parse::<Target>().is_err());
    }

    #[test]
    fn isa_is_built_for_each_arch_with_our_flags() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let isa = Target::for_arch(arch).isa(2).expect("isa");
            assert!(isa.flags().is_pic());
            assert!(isa.flags().preserve_frame_pointers());
            assert!(!isa.flags().unwind_info());
            assert!(isa.flags().enable_probestack());
            assert_eq!(
                isa.flags().probestack_strategy(),
                settings::ProbestackStrategy::Inline
            );
            assert_eq!(isa.flags().probestack_size_log2(), 12);
            assert_eq!(isa.pointer_bytes(), 8);
        }
        let isa0 = Target::host().isa(0).expect("isa");
        assert_eq!(isa0.flags().opt_level(), settings::OptLevel::None);
    }
}
