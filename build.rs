//! Release builds of the `ally-idp` binary lay out its code in the order of
//! `bench/text-order/symbols.txt` (LLD's `--symbol-ordering-file`): the functions start-up
//! runs first, then those requests run, then everything else. The kernel maps 64 KiB of code
//! around every page a process touches, so start-up code scattered over the whole text kept
//! most of it resident; laid out together it shares a few MiB of pages (README, Benchmarks).
//!
//! Only where the linker is LLD, which rustc uses by default on x86_64 Linux since 1.90 (other
//! linkers do not know the option). Names missing from the list (new or renamed functions)
//! just go after it; `bench/text-order/generate.sh` regenerates it.

fn main() {
    println!("cargo:rerun-if-changed=bench/text-order/symbols.txt");
    println!("cargo:rerun-if-changed=build.rs");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !release || target != "x86_64-unknown-linux-gnu" || !rustc_links_with_lld() {
        return;
    }
    let order = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("bench/text-order/symbols.txt");
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=ally-idp=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bin=ally-idp=-Wl,--no-warn-symbol-ordering");
    }
}

/// rustc 1.90 and later link x86_64 Linux binaries with its bundled LLD.
fn rustc_links_with_lld() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = std::process::Command::new(rustc).arg("--version").output() else {
        return false;
    };
    let version = String::from_utf8_lossy(&out.stdout);
    let mut parts = version
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (1, 90)
}
