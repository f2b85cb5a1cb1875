/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/static_assertions-e98f6b518e045c03.d: /usr/share/cargo/registry/static_assertions-1.1.0/src/lib.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_cfg.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_eq_align.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_eq_size.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_fields.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_impl.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_obj_safe.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_trait.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_type.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/const_assert.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/libstatic_assertions-e98f6b518e045c03.rlib: /usr/share/cargo/registry/static_assertions-1.1.0/src/lib.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_cfg.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_eq_align.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_eq_size.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_fields.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_impl.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_obj_safe.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_trait.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_type.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/const_assert.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/libstatic_assertions-e98f6b518e045c03.rmeta: /usr/share/cargo/registry/static_assertions-1.1.0/src/lib.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_cfg.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_eq_align.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_eq_size.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_fields.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_impl.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_obj_safe.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_trait.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/assert_type.rs /usr/share/cargo/registry/static_assertions-1.1.0/src/const_assert.rs

/usr/share/cargo/registry/static_assertions-1.1.0/src/lib.rs:
/usr/share/cargo/registry/static_assertions-1.1.0/src/assert_cfg.rs:
/usr/share/cargo/registry/static_assertions-1.1.0/src/assert_eq_align.rs:
/usr/share/cargo/registry/static_assertions-1.1.0/src/assert_eq_size.rs:
/usr/share/cargo/registry/static_assertions-1.1.0/src/assert_fields.rs:
/usr/share/cargo/registry/static_assertions-1.1.0/src/assert_impl.rs:
/usr/share/cargo/registry/static_assertions-1.1.0/src/assert_obj_safe.rs:
/usr/share/cargo/registry/static_assertions-1.1.0/src/assert_trait.rs:
/usr/share/cargo/registry/static_assertions-1.1.0/src/assert_type.rs:
/usr/share/cargo/registry/static_assertions-1.1.0/src/const_assert.rs:
