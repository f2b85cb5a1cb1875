/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/memoffset-a1842103fbf9444a.d: /usr/share/cargo/registry/memoffset-0.6.5/src/lib.rs /usr/share/cargo/registry/memoffset-0.6.5/src/raw_field.rs /usr/share/cargo/registry/memoffset-0.6.5/src/offset_of.rs /usr/share/cargo/registry/memoffset-0.6.5/src/span_of.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/libmemoffset-a1842103fbf9444a.rlib: /usr/share/cargo/registry/memoffset-0.6.5/src/lib.rs /usr/share/cargo/registry/memoffset-0.6.5/src/raw_field.rs /usr/share/cargo/registry/memoffset-0.6.5/src/offset_of.rs /usr/share/cargo/registry/memoffset-0.6.5/src/span_of.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/libmemoffset-a1842103fbf9444a.rmeta: /usr/share/cargo/registry/memoffset-0.6.5/src/lib.rs /usr/share/cargo/registry/memoffset-0.6.5/src/raw_field.rs /usr/share/cargo/registry/memoffset-0.6.5/src/offset_of.rs /usr/share/cargo/registry/memoffset-0.6.5/src/span_of.rs

/usr/share/cargo/registry/memoffset-0.6.5/src/lib.rs:
/usr/share/cargo/registry/memoffset-0.6.5/src/raw_field.rs:
/usr/share/cargo/registry/memoffset-0.6.5/src/offset_of.rs:
/usr/share/cargo/registry/memoffset-0.6.5/src/span_of.rs:
