//! Generates the gRPC code of `proto/mcpgw/v1` (config sync, admin, and the authorization server's store) with a vendored `protoc`, so building needs no
//! system protobuf compiler.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let sync = proto_root.join("mcpgw/v1/sync.proto");
    let admin = proto_root.join("mcpgw/v1/admin.proto");
    let authorization = proto_root.join("mcpgw/v1/authorization.proto");
    for proto in [&sync, &admin, &authorization] {
        println!("cargo:rerun-if-changed={}", proto.display());
    }
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("mcpgw_descriptor.bin"))
        .compile_with_config(config, &[sync, admin, authorization], &[proto_root])?;
    Ok(())
}
