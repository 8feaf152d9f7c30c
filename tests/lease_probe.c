/*  lease_probe: drives the leasing API for the end-to-end tests, with
    checks a shell script cannot make (each output matches its input,
    each task answered exactly once).

    lease_probe ENDPOINT acquire [REQUEST]       print the lease JSON
    lease_probe ENDPOINT tasks N FUNCTION [REQUEST]
                                                 N tasks, input "task-I",
                                                 output checked against it
                                                 for echo.echo; prints
                                                 "ok N provider" or fails
    lease_probe ENDPOINT hold SECONDS [REQUEST]  acquire, print, sleep
    lease_probe ENDPOINT spread N LEASES FUNCTION INPUT EXPECT [REQUEST]
                                                 N tasks over LEASES leases
                                                 (round robin), each output
                                                 must be EXPECT, each task
                                                 answered once; prints
                                                 "ok N" and the providers
    lease_probe ENDPOINT run FUNCTION INPUT [REQUEST]
                                                 one task; prints the
                                                 output, or the error
    lease_probe ENDPOINT again FUNCTION INPUT [REQUEST]
                                                 five leases in a row on
                                                 one handle, each released;
                                                 the first and the last run
                                                 one task, the three between
                                                 none; prints each lease's
                                                 JSON line, then the two
                                                 outputs
    REQUEST: cpus=N gpus=N memory=MB bound=US local-first fail retry-remote
             timeout=MS
    Exit: 0 ok, 1 API error (its name on stderr), 2 usage, 3 wrong result.
*/
#include <osmose.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_timeout_ms = 5000;

static void
s_request (osmose_request_t *request, int argc, char **argv)
{
    osmose_request_init (request);
    for (int index = 0; index < argc; index++) {
        const char *arg = argv [index];
        if (strncmp (arg, "cpus=", 5) == 0)
            request->cpus = atoi (arg + 5);
        else if (strncmp (arg, "gpus=", 5) == 0)
            request->gpus = atoi (arg + 5);
        else if (strncmp (arg, "memory=", 7) == 0)
            request->memory_mb = atoll (arg + 7);
        else if (strncmp (arg, "bound=", 6) == 0)
            request->latency_bound_us = atoll (arg + 6);
        else if (strncmp (arg, "timeout=", 8) == 0)
            s_timeout_ms = atoi (arg + 8);
        else if (strcmp (arg, "local-first") == 0)
            request->strategy = OSMOSE_LOCAL_FIRST;
        else if (strcmp (arg, "fail") == 0)
            request->failure = OSMOSE_FAIL;
        else if (strcmp (arg, "retry-remote") == 0)
            request->failure = OSMOSE_RETRY_REMOTE;
    }
}

static int
s_fail (const char *what, int rc)
{
    fprintf (stderr, "lease_probe: %s: %s (%s)\n", what, osmose_strerror (rc),
             osmose_strerror_name (rc));
    return 1;
}

static int
s_print_lease (osmose_lease_t *lease)
{
    char *json = NULL;
    int rc = osmose_lease_json (lease, &json);
    if (rc)
        return s_fail ("lease json", rc);
    printf ("%s\n", json);
    fflush (stdout);
    osmose_free (json);
    return 0;
}

static int
s_tasks (osmose_lease_t *lease, long count, const char *function)
{
    char *seen = (char *) calloc ((size_t) count + 1, 1);
    uint64_t *ids = (uint64_t *) calloc ((size_t) count + 1, sizeof (uint64_t));
    if (!seen || !ids)
        return s_fail ("tasks", OSMOSE_ENOMEM);
    long submitted = 0, received = 0;
    bool echo = strcmp (function, "echo.echo") == 0;
    while (received < count) {
        while (submitted < count && osmose_lease_in_flight (lease) < 2000) {
            char input [32];
            int size = snprintf (input, sizeof (input), "task-%ld", submitted);
            uint64_t id;
            int rc = osmose_lease_submit (lease, function, input, (size_t) size, &id);
            if (rc)
                return s_fail ("submit", rc);
            //  The library numbers tasks 1, 2, ... within a lease
            if (id != (uint64_t) submitted + 1) {
                fprintf (stderr, "lease_probe: task id %lu for task %ld\n",
                         (unsigned long) id, submitted);
                return 3;
            }
            submitted++;
        }
        osmose_result_t result;
        int rc = osmose_lease_next_result (lease, 30000, &result);
        if (rc)
            return s_fail ("next result", rc);
        long index = (long) result.task_id - 1;
        if (index < 0 || index >= count || seen [index]) {
            fprintf (stderr, "lease_probe: unexpected or duplicate result %lu\n",
                     (unsigned long) result.task_id);
            return 3;
        }
        seen [index] = 1;
        if (result.status) {
            fprintf (stderr, "lease_probe: task %ld failed: %s: %s\n", index,
                     osmose_strerror_name (result.status), result.reason);
            return 1;
        }
        char input [32];
        int size = snprintf (input, sizeof (input), "task-%ld", index);
        if (echo && (result.output_size != (size_t) size
                  || memcmp (result.output, input, (size_t) size) != 0)) {
            fprintf (stderr, "lease_probe: task %ld: wrong output\n", index);
            return 3;
        }
        received++;
    }
    printf ("ok %ld %s\n", received, osmose_lease_provider (lease));
    free (seen);
    free (ids);
    return 0;
}

//  N tasks over several leases at once; a provider may die meanwhile
static int
s_spread (osmose_t *mesh, osmose_request_t *request, long count, int leases,
          const char *function, const char *input, const char *expect)
{
    osmose_lease_t *lease [16];
    long *sent = (long *) calloc ((size_t) leases, sizeof (long));
    char **seen = (char **) calloc ((size_t) leases, sizeof (char *));
    if (leases < 1 || leases > 16 || !sent || !seen)
        return 2;
    for (int index = 0; index < leases; index++) {
        int rc = osmose_lease_acquire (mesh, request, s_timeout_ms, &lease [index]);
        if (rc)
            return s_fail ("acquire", rc);
        seen [index] = (char *) calloc ((size_t) count + 2, 1);
        printf ("lease %d from %s\n", index, osmose_lease_provider (lease [index]));
    }
    fflush (stdout);
    long submitted = 0, received = 0;
    size_t size = strlen (expect);
    while (received < count) {
        for (int index = 0; index < leases && submitted < count; index++)
            while (submitted < count && osmose_lease_in_flight (lease [index]) < 200) {
                uint64_t id;
                int rc = osmose_lease_submit (lease [index], function, input, strlen (input), &id);
                if (rc) {
                    fprintf (stderr, "lease_probe: lease %d: %s\n", index,
                             osmose_lease_last_error (lease [index]));
                    return s_fail ("submit", rc);
                }
                sent [index]++;
                submitted++;
            }
        for (int index = 0; index < leases; index++) {
            osmose_result_t result;
            int rc;
            while ((rc = osmose_lease_next_result (lease [index], index == 0? 20: 0, &result)) == 0) {
                if (result.task_id == 0 || (long) result.task_id > sent [index]
                ||  seen [index][result.task_id]) {
                    fprintf (stderr, "lease_probe: duplicate or unknown result %lu\n",
                             (unsigned long) result.task_id);
                    return 3;
                }
                seen [index][result.task_id] = 1;
                if (result.status || result.output_size != size
                ||  memcmp (result.output, expect, size) != 0) {
                    fprintf (stderr, "lease_probe: task %lu: %s: %s\n",
                             (unsigned long) result.task_id,
                             osmose_strerror_name (result.status), result.reason);
                    return 3;
                }
                received++;
            }
            if (rc != OSMOSE_ETIMEDOUT && rc != OSMOSE_ENOTFOUND) {
                fprintf (stderr, "lease_probe: lease %d: %s\n", index,
                         osmose_lease_last_error (lease [index]));
                return s_fail ("next result", rc);
            }
        }
    }
    printf ("ok %ld", received);
    for (int index = 0; index < leases; index++) {
        printf (" %s", osmose_lease_provider (lease [index]));
        osmose_lease_release (&lease [index]);
        free (seen [index]);
    }
    printf ("\n");
    free (seen);
    free (sent);
    return 0;
}

//  Five leases in a row: acquire, print the lease, release; the first and
//  the last run FUNCTION on INPUT before their release. Then print both
//  outputs. Later leases may reuse the first's connection; the three with
//  no task leave their OPEN's answer unread on it, for the next to skip
static int
s_again (osmose_t *mesh, const osmose_request_t *request, const char *function,
         const char *input)
{
    void *outputs [2] = { NULL, NULL };
    size_t sizes [2] = { 0, 0 };
    for (int round = 0; round < 5; round++) {
        osmose_lease_t *lease = NULL;
        int rc = osmose_lease_acquire (mesh, request, s_timeout_ms, &lease);
        bool acquired = rc == 0;
        int slot = round == 0? 0: 1;
        if (acquired && (rc = s_print_lease (lease)) == 0 && (round == 0 || round == 4)
        &&  (rc = osmose_lease_run (lease, function, input, strlen (input), &outputs [slot],
                                    &sizes [slot], 30000)) != 0)
            fprintf (stderr, "lease_probe: run: %s: %s\n", osmose_strerror_name (rc),
                     osmose_lease_last_error (lease));
        if (rc) {
            osmose_lease_release (&lease);
            osmose_free (outputs [0]);
            return acquired? 1: s_fail ("acquire", rc);
        }
        osmose_lease_release (&lease);
    }
    for (int round = 0; round < 2; round++) {
        fwrite (outputs [round], 1, sizes [round], stdout);
        printf ("\n");
        osmose_free (outputs [round]);
    }
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: lease_probe ENDPOINT acquire|tasks|hold|run ...\n");
        return 2;
    }
    const char *verb = argv [2];
    int first = strcmp (verb, "acquire") == 0? 3
              : strcmp (verb, "tasks") == 0? 5
              : strcmp (verb, "hold") == 0? 4
              : strcmp (verb, "run") == 0? 5
              : strcmp (verb, "again") == 0? 5
              : strcmp (verb, "spread") == 0? 8: -1;
    if (first < 0 || argc < first) {
        fprintf (stderr, "lease_probe: bad arguments\n");
        return 2;
    }
    osmose_request_t request;
    s_request (&request, argc - first, argv + first);
    osmose_t *mesh = NULL;
    int rc = osmose_connect (argv [1], 2000, &mesh);
    if (rc)
        return s_fail ("connect", rc);
    if (strcmp (verb, "spread") == 0) {
        int status = s_spread (mesh, &request, atol (argv [3]), atoi (argv [4]), argv [5],
                               argv [6], argv [7]);
        osmose_disconnect (&mesh);
        return status;
    }
    if (strcmp (verb, "again") == 0) {
        int status = s_again (mesh, &request, argv [3], argv [4]);
        osmose_disconnect (&mesh);
        return status;
    }
    osmose_lease_t *lease = NULL;
    rc = osmose_lease_acquire (mesh, &request, s_timeout_ms, &lease);
    if (rc) {
        osmose_disconnect (&mesh);
        return s_fail ("acquire", rc);
    }
    int status = 0;
    if (strcmp (verb, "acquire") == 0)
        status = s_print_lease (lease);
    else
    if (strcmp (verb, "hold") == 0) {
        status = s_print_lease (lease);
        sleep ((unsigned) atoi (argv [3]));
    }
    else
    if (strcmp (verb, "tasks") == 0)
        status = s_tasks (lease, atol (argv [3]), argv [4]);
    else {
        void *output = NULL;
        size_t size = 0;
        rc = osmose_lease_run (lease, argv [3], argv [4], strlen (argv [4]), &output, &size,
                               30000);
        if (rc) {
            fprintf (stderr, "lease_probe: run: %s: %s\n", osmose_strerror_name (rc),
                     osmose_lease_last_error (lease));
            status = 1;
        }
        else
            fwrite (output, 1, size, stdout);
        osmose_free (output);
    }
    osmose_lease_release (&lease);
    osmose_disconnect (&mesh);
    return status;
}
