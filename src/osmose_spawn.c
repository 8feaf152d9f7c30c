/*  osmose_spawn.c: start and reap worker processes (see osmose_spawn.h).
    After fork in a threaded process the child may only make system calls
    until exec, so everything it needs is prepared before fork.
*/
#include "osmose_prelude.h"
#include "osmose_spawn.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define S_PAGE 4096

//  Map the page of SHM_FD at *shm_p (new, or over the old one)
static int
s_map (int shm_fd, osmose_wire_shm_t **shm_p)
{
    void *page = *shm_p?
        mmap (*shm_p, S_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, shm_fd, 0):
        mmap (NULL, S_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
    if (page == MAP_FAILED)
        return OSMOSE_EIO;
    *shm_p = (osmose_wire_shm_t *) page;
    return 0;
}

int
osmose_spawn_worker (const char *path, char *const argv [],
                     osmose_wire_shm_t **shm_p, pid_t *pid_p, int *fd_p)
{
    int pair [2];
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair))
        return OSMOSE_EIO;
    int shm_fd = memfd_create ("osmose-exec", MFD_CLOEXEC);
    pid_t pid = -1;
    if (shm_fd >= 0 && ftruncate (shm_fd, S_PAGE) == 0 && s_map (shm_fd, shm_p) == 0)
        pid = fork ();
    if (pid == 0) {
        //  Move our two descriptors above 3 and 4 first, so dup2 never
        //  meets itself (which would keep close-on-exec set)
        int socket_fd = fcntl (pair [1], F_DUPFD, 10);
        int page_fd = fcntl (shm_fd, F_DUPFD, 10);
        if (socket_fd < 0 || page_fd < 0
        ||  dup2 (socket_fd, OSMOSE_WIRE_SOCKET_FD) < 0 || dup2 (page_fd, OSMOSE_WIRE_SHM_FD) < 0)
            _exit (126);
        //  Close everything else the daemon had open
        if (close_range (OSMOSE_WIRE_SHM_FD + 1, ~0u, 0))
            for (long fd = OSMOSE_WIRE_SHM_FD + 1; fd < sysconf (_SC_OPEN_MAX); fd++)
                close ((int) fd);
        execv (path, argv);
        _exit (127);
    }
    close (pair [1]);
    if (shm_fd >= 0)
        close (shm_fd);
    if (pid < 0) {
        close (pair [0]);
        return OSMOSE_EIO;
    }
    fcntl (pair [0], F_SETFL, fcntl (pair [0], F_GETFL) | O_NONBLOCK);
    *pid_p = pid;
    *fd_p = pair [0];
    return 0;
}

void
osmose_spawn_reap (pid_t pid, char *how, size_t how_size)
{
    int status = 0;
    pid_t got = 0;
    //  Its socket is closed, so it is exiting; a bounded wait, then force
    for (int attempt = 0; attempt < 100 && got == 0; attempt++) {
        got = waitpid (pid, &status, WNOHANG);
        if (got == 0)
            zclock_sleep (1);
    }
    if (got == 0) {
        kill (pid, SIGKILL);
        got = waitpid (pid, &status, 0);
    }
    if (got > 0 && WIFSIGNALED (status))
        snprintf (how, how_size, "worker crashed: signal %d (%s)", WTERMSIG (status),
                  strsignal (WTERMSIG (status)));
    else
    if (got > 0 && WIFEXITED (status))
        snprintf (how, how_size, "worker exited with status %d", WEXITSTATUS (status));
    else
        snprintf (how, how_size, "worker lost");
}

void
osmose_spawn_test (bool verbose)
{
    printf (" * osmose_spawn: ");
    //  The child finds its socket on fd 3, its page on fd 4, nothing above
    char *const argv [] = { (char *) "sh", (char *) "-c",
        (char *) "ls /proc/self/fd | sort -n | tr '\\n' ' ' >&3; "
                 "test -e /proc/self/fd/4 && exit 7", NULL };
    osmose_wire_shm_t *shm = NULL;
    pid_t pid;
    int fd;
    assert (osmose_spawn_worker ("/bin/sh", argv, &shm, &pid, &fd) == 0);
    assert (shm && pid > 0 && fd >= 0);
    atomic_store (&shm->cancel_seq, 42);
    char listing [256] = "";
    size_t size = 0;
    for (int attempt = 0; attempt < 500 && !strchr (listing, ' '); attempt++) {
        ssize_t got = recv (fd, listing + size, sizeof (listing) - 1 - size, 0);
        if (got > 0)
            size += (size_t) got;
        else
            zclock_sleep (5);
        listing [size] = '\0';
    }
    zclock_sleep (50);
    //  0-2 and 3-4, and the descriptor ls opens to read the directory
    assert (strncmp (listing, "0 1 2 3 4 ", 10) == 0);
    assert (strlen (listing) <= 12);
    close (fd);
    char how [160];
    osmose_spawn_reap (pid, how, sizeof (how));
    assert (streq (how, "worker exited with status 7"));
    //  A new process gets a fresh page at the same address
    osmose_wire_shm_t *before = shm;
    char *const crash [] = { (char *) "sh", (char *) "-c", (char *) "kill -SEGV $$", NULL };
    assert (osmose_spawn_worker ("/bin/sh", crash, &shm, &pid, &fd) == 0);
    assert (shm == before && atomic_load (&shm->cancel_seq) == 0);
    osmose_spawn_reap (pid, how, sizeof (how));
    assert (strncmp (how, "worker crashed: signal 11", 25) == 0);
    close (fd);
    //  A program that is not there
    assert (osmose_spawn_worker ("/nonexistent/program", crash, &shm, &pid, &fd) == 0);
    osmose_spawn_reap (pid, how, sizeof (how));
    assert (streq (how, "worker exited with status 127"));
    close (fd);
    munmap (shm, S_PAGE);
    printf ("OK\n");
}
