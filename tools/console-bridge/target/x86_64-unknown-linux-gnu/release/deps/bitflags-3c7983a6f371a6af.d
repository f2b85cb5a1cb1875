/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/bitflags-3c7983a6f371a6af.d: /usr/share/cargo/registry/bitflags-1.3.2/src/lib.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/libbitflags-3c7983a6f371a6af.rlib: /usr/share/cargo/registry/bitflags-1.3.2/src/lib.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/libbitflags-3c7983a6f371a6af.rmeta: /usr/share/cargo/registry/bitflags-1.3.2/src/lib.rs

/usr/share/cargo/registry/bitflags-1.3.2/src/lib.rs:
