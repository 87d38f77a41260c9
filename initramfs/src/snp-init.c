/*
 * PID 1 of the SNP initramfs (initramfs-snp.cpio.gz): loads Debian's sev-guest module with what it needs (configfs and
 * tsm, and the gcm(aes) AEAD its probe allocates: crypto_null, gcm, gf128mul, ghash-generic), asks the SNP firmware
 * for an attestation report through /dev/sev-guest (SNP_GET_REPORT) with REPORT_DATA of its own choosing, prints the
 * report's MEASUREMENT, REPORT_DATA and POLICY, gets a second report through configfs-tsm (the extended guest
 * request), unloads sev-guest, which converts its shared message pages back to private, and powers off. Tests compare
 * the MEASUREMENT with what `cocolaunch measure` predicts and verify the report the VMM wrote with --evidence-out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MODULE_INIT_COMPRESSED_FILE 4
#define SNP_GET_REPORT 0xC0205300UL /* _IOWR('S', 0x0, struct snp_guest_request_ioctl), uapi/linux/sev-guest.h */
#define REPORT_AT 0x20              /* MSG_REPORT_RSP: status, report_size, 24 reserved bytes, then the report */
#define POLICY_AT 0x08              /* ATTESTATION_REPORT offsets (snp-launch-digest.md) */
#define REPORT_DATA_AT 0x50
#define MEASUREMENT_AT 0x90
#define REPORT_SIZE 0x4A0

/* The REPORT_DATA this guest binds into its reports: 64 bytes of its own choice. */
static const char report_data[64] = "CocoLaunch SNP init: this REPORT_DATA is the guest's own choice.";

struct snp_guest_request_ioctl {
    uint8_t msg_version;
    uint64_t req_data;
    uint64_t resp_data;
    uint64_t exitinfo2;
};

struct snp_report_req {
    uint8_t user_data[64];
    uint32_t vmpl;
    uint8_t rsvd[28];
};

static void say(const char *line)
{
    (void)!write(1, line, strlen(line));
}

static void hex_line(const char *name, const unsigned char *bytes, int count)
{
    char line[200];
    int n = snprintf(line, sizeof line, "cocolaunch-snp-init: %s ", name);
    for (int i = 0; i < count; i++)
        n += snprintf(line + n, sizeof line - n, "%02x", bytes[i]);
    snprintf(line + n, sizeof line - n, "\n");
    say(line);
}

static void failed(const char *what)
{
    char line[160];
    snprintf(line, sizeof line, "cocolaunch-snp-init: %s: %s\n", what, strerror(errno));
    say(line);
}

static int load(const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "/lib/modules/%s.ko.xz", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    long r = syscall(SYS_finit_module, fd, "", MODULE_INIT_COMPRESSED_FILE);
    close(fd);
    return (int)r;
}

static uint64_t u64_at(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* SNP_GET_REPORT: MSG_REPORT_REQ with our REPORT_DATA at VMPL 0; prints the report's fields. 0 on success. */
static int report_ioctl(void)
{
    static struct snp_report_req req;
    static unsigned char resp[4000];
    memcpy(req.user_data, report_data, sizeof req.user_data);
    struct snp_guest_request_ioctl io = { .msg_version = 1, .req_data = (uintptr_t)&req, .resp_data = (uintptr_t)resp };
    int fd = open("/dev/sev-guest", O_RDWR | O_CLOEXEC);
    if (fd < 0 || ioctl(fd, SNP_GET_REPORT, &io) != 0) {
        char line[160];
        snprintf(line, sizeof line, "cocolaunch-snp-init: SNP_GET_REPORT failed: %s (exitinfo2 0x%llx)\n", strerror(errno),
                 (unsigned long long)io.exitinfo2);
        say(line);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);

    const unsigned char *report = resp + REPORT_AT;
    char line[96];
    hex_line("MEASUREMENT", report + MEASUREMENT_AT, 48);
    hex_line("REPORT_DATA", report + REPORT_DATA_AT, 64);
    snprintf(line, sizeof line, "cocolaunch-snp-init: POLICY 0x%016llx\n", (unsigned long long)u64_at(report + POLICY_AT));
    say(line);
    return 0;
}

/* A report through configfs-tsm (Documentation/ABI/testing/configfs-tsm): REPORT_DATA into inblob, the report out of outblob. */
static void report_configfs(void)
{
    static const char dir[] = "/sys/kernel/config/tsm/report/cocolaunch";
    static unsigned char outblob[8192];
    char provider[32] = "", line[200];
    if (mount("configfs", "/sys/kernel/config", "configfs", 0, NULL) != 0 || mkdir(dir, 0700) != 0) {
        failed("configfs-tsm");
        return;
    }

    long total = -1, n = 0;
    int fd = open("/sys/kernel/config/tsm/report/cocolaunch/provider", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, provider, sizeof provider - 1);
        provider[n > 0 ? n - 1 : 0] = 0; /* without its newline */
        close(fd);
    }
    fd = open("/sys/kernel/config/tsm/report/cocolaunch/inblob", O_WRONLY | O_CLOEXEC);
    if (fd >= 0 && write(fd, report_data, sizeof report_data) == (long)sizeof report_data && close(fd) == 0) {
        fd = open("/sys/kernel/config/tsm/report/cocolaunch/outblob", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            total = 0;
            while (total < (long)sizeof outblob && (n = read(fd, outblob + total, sizeof outblob - total)) > 0)
                total += n;
            if (n < 0)
                total = -1;
            close(fd);
        }
    }

    if (total < 0)
        failed("configfs-tsm report");
    else {
        int same = total == REPORT_SIZE && memcmp(outblob + REPORT_DATA_AT, report_data, sizeof report_data) == 0;
        snprintf(line, sizeof line, "cocolaunch-snp-init: configfs-tsm report %ld bytes from provider %s, REPORT_DATA %s\n", total,
                 provider, same ? "the same" : "different");
        say(line);
    }
    rmdir(dir);
}

int main(void)
{
    static const char *const modules[] = { "configfs", "tsm", "crypto_null", "gcm", "gf128mul", "ghash-generic", "sev-guest" };
    say("cocolaunch-snp-init: hello from PID 1\n");
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mkdir("/sys", 0755);
    mount("sysfs", "/sys", "sysfs", 0, NULL);

    const char *missing = NULL;
    for (unsigned i = 0; i < sizeof modules / sizeof *modules && !missing; i++)
        if (load(modules[i]) != 0)
            missing = modules[i];
    if (missing) {
        char what[64];
        snprintf(what, sizeof what, "cannot load %s", missing);
        failed(what);
    } else {
        say("cocolaunch-snp-init: sev-guest loaded\n");
        if (report_ioctl() == 0)
            report_configfs();
        /* Unloading sev-guest frees its shared request, response and certificate pages: page-state changes to private. */
        if (syscall(SYS_delete_module, "sev_guest", O_NONBLOCK) == 0)
            say("cocolaunch-snp-init: sev-guest unloaded\n");
        else
            failed("cannot unload sev-guest");
    }

    say("cocolaunch-snp-init: powering off\n");
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
