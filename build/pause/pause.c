/*
 * minikubelet-pause: the infra process of a minikubelet pod sandbox.
 *
 * Every pod gets one sandbox container that owns the pod's namespaces
 * (network, IPC, UTS and, with shareProcessNamespace, PID).  The process
 * inside it has only two jobs:
 *
 *   1. exist, so the namespaces stay alive while application containers
 *      come and go (a namespace dies with its last process);
 *   2. when it is PID 1 of a shared PID namespace, reap the zombies of
 *      processes that got re-parented to it, as init does.
 *
 * It does nothing else: no allocation, no files, no network.  It is built
 * with `gcc -Os -static -s` so the image needs no libc and no loader.
 *
 * Build: gcc -Os -static -s -o bin/minikubelet-pause build/pause/pause.c
 */

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The build may pass -DMINIKUBELET_PAUSE_VERSION='"v1.2.3"'. */
#ifndef MINIKUBELET_PAUSE_VERSION
#define MINIKUBELET_PAUSE_VERSION "dev"
#endif

/*
 * Reaps every child that has exited.  One SIGCHLD may stand for several
 * exits (standard signals do not queue), so loop until waitpid reports
 * that nothing more is ready.  errno is saved because the handler may
 * interrupt code that is about to read it.
 */
static void on_child(int sig)
{
	int saved = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

/*
 * Exits at once on SIGTERM/SIGINT.  Doing it in the handler (with the
 * async-signal-safe _exit) instead of setting a flag for the main loop
 * avoids the race where the signal lands between the flag check and
 * pause(), which would leave us sleeping forever.  Exit status 0 tells
 * the runtime that the sandbox stopped because it was asked to.  As PID 1
 * our exit makes the kernel kill whatever is left in the PID namespace;
 * that is intended, since the sandbox is stopped after the app containers.
 */
static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static int install(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	/* Block the other handled signals while one runs, so the handlers
	 * never nest. */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGCHLD);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGINT);
	return sigaction(sig, &sa, NULL);
}

static void usage(FILE *out, const char *argv0)
{
	fprintf(out,
		"%s %s: minikubelet pod sandbox process; sleeps until SIGTERM/SIGINT, "
		"reaps zombies (usage: %s [-v|-h])\n",
		argv0, MINIKUBELET_PAUSE_VERSION, argv0);
}

int main(int argc, char **argv)
{
	const char *name = argc > 0 && argv[0] != NULL ? argv[0] : "pause";

	if (argc > 1) {
		if (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "-h") == 0 ||
		    strcmp(argv[1], "--version") == 0 ||
		    strcmp(argv[1], "--help") == 0) {
			usage(stdout, name);
			return 0;
		}
		usage(stderr, name);
		return 2;
	}

	/*
	 * A PID namespace's init only receives signals it has a handler for
	 * (the kernel drops the rest, SIGKILL from outside excepted), so the
	 * handlers below are what make SIGTERM work at all when we are PID 1.
	 * SA_NOCLDSTOP: stopped or continued children are not our business.
	 * SA_RESTART: nothing of ours should see EINTR.
	 */
	if (install(SIGTERM, on_stop, SA_RESTART) != 0 ||
	    install(SIGINT, on_stop, SA_RESTART) != 0 ||
	    install(SIGCHLD, on_child, SA_RESTART | SA_NOCLDSTOP) != 0) {
		perror("sigaction");
		return 1;
	}

	/*
	 * Not being PID 1 is legitimate (a hostPID pod, or someone running
	 * the binary by hand), but then orphans are re-parented elsewhere and
	 * we reap nothing; say so, and keep doing the main job: holding the
	 * namespaces.
	 */
	if (getpid() != 1)
		fprintf(stderr, "%s: warning: not running as PID 1 (pid %ld); "
			"orphaned processes will not be reaped here\n",
			name, (long)getpid());

	/* Children may have exited before the handler was installed. */
	on_child(SIGCHLD);

	/* pause() returns after each handled signal that did not exit us
	 * (SIGCHLD), so sleep again. */
	for (;;)
		pause();
}
