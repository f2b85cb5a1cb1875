/work/main/tools/console-bridge/target/release/deps/autocfg-8612331d6f75388d.d: /usr/share/cargo/registry/autocfg-1.1.0/src/lib.rs /usr/share/cargo/registry/autocfg-1.1.0/src/error.rs /usr/share/cargo/registry/autocfg-1.1.0/src/version.rs

/work/main/tools/console-bridge/target/release/deps/libautocfg-8612331d6f75388d.rlib: /usr/share/cargo/registry/autocfg-1.1.0/src/lib.rs /usr/share/cargo/registry/autocfg-1.1.0/src/error.rs /usr/share/cargo/registry/autocfg-1.1.0/src/version.rs

/work/main/tools/console-bridge/target/release/deps/libautocfg-8612331d6f75388d.rmeta: /usr/share/cargo/registry/autocfg-1.1.0/src/lib.rs /usr/share/cargo/registry/autocfg-1.1.0/src/error.rs /usr/share/cargo/registry/autocfg-1.1.0/src/version.rs

/usr/share/cargo/registry/autocfg-1.1.0/src/lib.rs:
/usr/share/cargo/registry/autocfg-1.1.0/src/error.rs:
/usr/share/cargo/registry/autocfg-1.1.0/src/version.rs:
