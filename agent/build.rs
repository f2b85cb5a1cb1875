//! Generates the protobuf messages of proto/ttrpc.proto and proto/agent.proto
//! with Debian's protoc and protobuf-codegen. Services are not generated
//! (protobuf-codegen 2 has no ttrpc glue): src/rpc/mod.rs dispatches by name.
use std::path::PathBuf;
use std::process::Command;

use protobuf::Message;

const PROTOS: [&str; 2] = ["ttrpc.proto", "agent.proto"];

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let proto_dir = PathBuf::from("../proto");
    for p in PROTOS {
        println!("cargo:rerun-if-changed=../proto/{p}");
    }
    let desc = out.join("descriptors.pb");
    let status = Command::new(std::env::var("PROTOC").unwrap_or_else(|_| "protoc".into()))
        .arg("--include_imports")
        .arg(format!("--descriptor_set_out={}", desc.display()))
        .arg(format!("-I{}", proto_dir.display()))
        .args(PROTOS)
        .status()
        .expect("protoc must be installed (apt-get install protobuf-compiler)");
    assert!(status.success(), "protoc failed");
    let bytes = std::fs::read(&desc).expect("protoc wrote the descriptor set");
    let set = protobuf::descriptor::FileDescriptorSet::parse_from_bytes(&bytes)
        .expect("protoc writes a valid descriptor set");
    let files: Vec<String> = PROTOS.iter().map(|s| s.to_string()).collect();
    let customize = protobuf_codegen::Customize {
        expose_fields: Some(true),
        generate_accessors: Some(false),
        ..Default::default()
    };
    for r in protobuf_codegen::gen(set.get_file(), &files, &customize) {
        // Inner attributes and docs cannot appear in an include!()d module: drop them.
        let text = String::from_utf8(r.content).expect("generated code is UTF-8");
        let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("#![") && !l.starts_with("//!")).collect();
        std::fs::write(out.join(&r.name), kept.join("\n")).expect("write generated code");
    }
}
