/*
 * The floor of a Landlock + seccomp sandbox start-up on this machine: only the kernel
 * steps agenthost's sandbox takes, none of its reading, parsing or planning.
 *
 *   gcc -O2 -static-pie docs/sandbox-floor.c -o /tmp/sandbox-floor
 *   /tmp/sandbox-floor ETC_RULES REPO        # e.g. 57 /path/to/repo (root's rule count)
 *   /tmp/sandbox-floor 0 REPO                # a normal user's: /etc as one rule
 *
 * It creates a ruleset handling every filesystem right, both TCP rights and both scopes;
 * adds read rules on the system trees, the devices, the repository, a private temp dir and
 * ETC_RULES entries of /etc (or /etc whole); forks; the child sets the parent-death signal,
 * starts a session, marks descriptors close-on-exec, sets no_new_privs, restricts itself
 * and installs a two-instruction-deep seccomp filter, then execs /usr/bin/true; the parent
 * waits and removes the temp dir. docs/sandbox-performance.md compares it with agenthost
 * and bwrap.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int ruleset;

static void rule(const char *path, unsigned long long access) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return;
    struct landlock_path_beneath_attr attr = {.allowed_access = access, .parent_fd = fd};
    syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
    close(fd);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ETC_RULES REPO\n", argv[0]);
        return 2;
    }
    int etc_rules = atoi(argv[1]);
    /* handled_access_fs, handled_access_net, scoped (ABI 6 layout). */
    struct { unsigned long long fs, net, scoped; } attr = {(1ULL << 16) - 1, 3, 3};
    ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) {
        perror("landlock_create_ruleset");
        return 1;
    }
    const char *trees[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/opt", "/proc", "/sys", argv[2], 0};
    for (int i = 0; trees[i]; i++)
        rule(trees[i], 7);
    const char *files[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom", 0};
    for (int i = 0; files[i]; i++)
        rule(files[i], 6);
    char tmp[] = "/tmp/floorXXXXXX";
    if (!mkdtemp(tmp))
        return 1;
    rule(tmp, 0x1fff);
    if (etc_rules > 0) {
        DIR *dir = opendir("/etc");
        struct dirent *entry;
        char path[300];
        int added = 0;
        while (dir && (entry = readdir(dir)) && added < etc_rules) {
            if (entry->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "/etc/%s", entry->d_name);
            rule(path, 6);
            added++;
        }
        if (dir)
            closedir(dir);
    } else {
        rule("/etc", 6);
    }
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 425, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {4, filter};
    pid_t child = fork();
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, 9);
        setsid();
        syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        syscall(SYS_landlock_restrict_self, ruleset, 0);
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program);
        char *args[] = {"/usr/bin/true", 0};
        char *env[] = {"PATH=/usr/bin:/bin", 0};
        execve(args[0], args, env);
        _exit(127);
    }
    int status;
    waitpid(child, &status, 0);
    rmdir(tmp);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
