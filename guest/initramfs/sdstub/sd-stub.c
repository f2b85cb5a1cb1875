/*
 * A stand-in for libsystemd.so.0 inside the guest. crun links libsystemd
 * for its systemd cgroup manager, journald logging and sd_notify; none of
 * them exists in a Hako guest (no systemd, no D-Bus, no journal), where
 * crun uses the cgroupfs manager. Loading the real library and what it
 * pulls in (libgcrypt, liblzma, libzstd, liblz4, libgpg-error) costs about
 * as much as the rest of crun's start-up under software emulation.
 * Every D-Bus entry point fails with ENOSYS; sd_notify reports "no socket".
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sd_bus sd_bus;
typedef struct sd_bus_message sd_bus_message;
typedef struct sd_bus_slot sd_bus_slot;
typedef struct sd_bus_error sd_bus_error;
typedef int (*sd_bus_message_handler_t)(sd_bus_message *, void *, sd_bus_error *);

int sd_bus_default_system(sd_bus **bus) { (void)bus; return -ENOSYS; }
int sd_bus_default_user(sd_bus **bus) { (void)bus; return -ENOSYS; }
sd_bus *sd_bus_unref(sd_bus *bus) { (void)bus; return NULL; }
int sd_bus_call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_error *e, sd_bus_message **reply) {
	(void)bus; (void)m; (void)usec; (void)e; (void)reply; return -ENOSYS;
}
void sd_bus_error_free(sd_bus_error *e) { (void)e; }
int sd_bus_error_get_errno(const sd_bus_error *e) { (void)e; return ENOSYS; }
int sd_bus_match_signal_async(sd_bus *bus, sd_bus_slot **slot, const char *sender, const char *path,
                              const char *interface, const char *member, sd_bus_message_handler_t callback,
                              sd_bus_message_handler_t install_callback, void *userdata) {
	(void)bus; (void)slot; (void)sender; (void)path; (void)interface; (void)member;
	(void)callback; (void)install_callback; (void)userdata;
	return -ENOSYS;
}
int sd_bus_message_append(sd_bus_message *m, const char *types, ...) { (void)m; (void)types; return -ENOSYS; }
int sd_bus_message_append_strv(sd_bus_message *m, char **l) { (void)m; (void)l; return -ENOSYS; }
int sd_bus_message_close_container(sd_bus_message *m) { (void)m; return -ENOSYS; }
int sd_bus_message_new_method_call(sd_bus *bus, sd_bus_message **m, const char *destination, const char *path,
                                   const char *interface, const char *member) {
	(void)bus; (void)m; (void)destination; (void)path; (void)interface; (void)member;
	return -ENOSYS;
}
int sd_bus_message_open_container(sd_bus_message *m, char type, const char *contents) {
	(void)m; (void)type; (void)contents; return -ENOSYS;
}
int sd_bus_message_read(sd_bus_message *m, const char *types, ...) { (void)m; (void)types; return -ENOSYS; }
sd_bus_message *sd_bus_message_unref(sd_bus_message *m) { (void)m; return NULL; }
int sd_bus_process(sd_bus *bus, sd_bus_message **r) { (void)bus; (void)r; return -ENOSYS; }
int sd_bus_wait(sd_bus *bus, uint64_t timeout_usec) { (void)bus; (void)timeout_usec; return -ENOSYS; }
int sd_journal_send_with_location(const char *file, const char *line, const char *func, const char *format, ...) {
	(void)file; (void)line; (void)func; (void)format; return -ENOSYS;
}
int sd_notify(int unset_environment, const char *state) { (void)unset_environment; (void)state; return 0; }
int sd_notify_barrier(int unset_environment, uint64_t timeout) { (void)unset_environment; (void)timeout; return 0; }
