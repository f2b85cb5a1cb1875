/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/cfg_if-b2103c5491d6b175.d: /usr/share/cargo/registry/cfg-if-1.0.0/src/lib.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/libcfg_if-b2103c5491d6b175.rlib: /usr/share/cargo/registry/cfg-if-1.0.0/src/lib.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/libcfg_if-b2103c5491d6b175.rmeta: /usr/share/cargo/registry/cfg-if-1.0.0/src/lib.rs

/usr/share/cargo/registry/cfg-if-1.0.0/src/lib.rs:
