/*  osmose_cli_trust.c: "osmose trust add|remove|list": enrol and revoke.

    Through the daemon by default, so the change takes effect at once and
    is logged. With --state-dir the trust file is edited directly, for
    enrolment before the daemon first starts (it reads the file at start).
*/
#include "osmose_prelude.h"
#include "osmose_cli.h"
#include "osmose_trust.h"
#include <getopt.h>

static const char *s_help =
"Usage: osmose trust list [--json]\n"
"       osmose trust add KEY [--role device|user|admin] [--name NAME]\n"
"       osmose trust remove ID|KEY\n"
"Manage the keys this peer accepts. KEY is the 64-hex-digit Ed25519 public\n"
"key of a device or user (the second line of its node.pub), or a path to\n"
"its node.pub file. Only enrolled keys can connect to this peer.\n"
"\n"
"  -r, --role ROLE       device (default), user or admin\n"
"  -n, --name NAME       a name people recognise, e.g. cam-gate-3\n"
"  -s, --state-dir DIR   edit DIR/trust directly instead of asking osmosed\n"
"                        (for enrolment before the daemon starts)\n"
"  -j, --json            machine-readable output\n"
"\n"
"Enrolling a new device takes three steps: on the new device, 'osmosed --init'\n"
"prints its id and writes its public key to node.pub; on every device that\n"
"should accept it (or an admin's), 'osmose trust add KEY --name NAME'; on the\n"
"new device, 'osmose trust add' the keys of the peers it should accept.\n";

//  KEY may be hex or a path to a node.pub file
static char *
s_read_key_argument (const char *argument)
{
    if (strlen (argument) == 2 * OSMOSE_KEY_SIZE)
        return strdup (argument);
    FILE *file = fopen (argument, "r");
    if (!file)
        return NULL;
    char text [256] = "";
    size_t got = fread (text, 1, sizeof (text) - 1, file);
    fclose (file);
    text [got] = 0;
    return strdup (text);
}

static int
s_offline (osmose_cli_t *cli, const char *state_dir, const char *verb,
           const char *argument, osmose_trust_role_t role, const char *name)
{
    char path [PATH_MAX], error [512];
    snprintf (path, sizeof (path), "%s/trust", state_dir);
    osmose_trust_t *trust = NULL;
    int rc = osmose_trust_load (path, &trust, error, sizeof (error));
    if (rc) {
        fprintf (stderr, "osmose trust: %s\n", error);
        return osmose_cli_exit_code (rc);
    }
    if (streq (verb, "list")) {
        json_t *list = osmose_trust_json (trust);
        if (cli->json)
            osmose_cli_print_json (cli, list);
        else {
            size_t index;
            json_t *entry;
            json_array_foreach (list, index, entry)
                printf ("%-16s %-6s %-20s %s\n",
                        json_string_value (json_object_get (entry, "id")),
                        json_string_value (json_object_get (entry, "role")),
                        json_string_value (json_object_get (entry, "name")),
                        json_string_value (json_object_get (entry, "key")));
        }
        json_decref (list);
    }
    else
    if (streq (verb, "add")) {
        uint8_t key [OSMOSE_KEY_SIZE];
        char *text = s_read_key_argument (argument);
        rc = text? osmose_trust_parse_key (text, key): OSMOSE_EINVAL;
        free (text);
        if (rc == 0)
            rc = osmose_trust_add (trust, key, role, name);
        if (rc == OSMOSE_EEXIST)
            rc = 0;
        if (rc)
            fprintf (stderr, "osmose trust add: %s: %s\n", argument, osmose_strerror (rc));
    }
    else {
        rc = osmose_trust_remove (trust, argument, NULL);
        if (rc)
            fprintf (stderr, "osmose trust remove: %s: %s\n", argument, osmose_strerror (rc));
    }
    osmose_trust_destroy (&trust);
    return osmose_cli_exit_code (rc);
}

int
osmose_cli_trust (osmose_cli_t *cli, int argc, char *argv [])
{
    static const struct option options [] = {
        { "role", required_argument, NULL, 'r' },
        { "name", required_argument, NULL, 'n' },
        { "state-dir", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *role_text = "device", *name = NULL, *state_dir = NULL;
    int opt;
    while ((opt = getopt_long (argc, argv, "r:n:s:jh", options, NULL)) != -1) {
        switch (opt) {
            case 'r': role_text = optarg; break;
            case 'n': name = optarg; break;
            case 's': state_dir = optarg; break;
            case 'j': cli->json = true; break;
            case 'h': printf ("%s", s_help); return 0;
            default:  fprintf (stderr, "%s", s_help); return OSMOSE_EXIT_USAGE;
        }
    }
    const char *verb = optind < argc? argv [optind]: NULL;
    const char *argument = optind + 1 < argc? argv [optind + 1]: NULL;
    int role = osmose_trust_role_parse (role_text);
    bool valid = verb && role > 0
        && ((streq (verb, "list") && !argument)
         || ((streq (verb, "add") || streq (verb, "remove")) && argument))
        && optind + 2 >= argc;
    if (!valid) {
        if (role < 0)
            fprintf (stderr, "osmose trust: unknown role '%s'\n", role_text);
        fprintf (stderr, "%s", s_help);
        return OSMOSE_EXIT_USAGE;
    }
    if (state_dir)
        return s_offline (cli, state_dir, verb, argument, (osmose_trust_role_t) role, name);

    json_t *request = NULL, *reply = NULL;
    const char *command = "TRUST_LIST";
    if (streq (verb, "add")) {
        char *text = s_read_key_argument (argument);
        if (!text) {
            fprintf (stderr, "osmose trust add: %s: not a key and not a readable file\n", argument);
            return OSMOSE_EXIT_USAGE;
        }
        request = json_pack ("{s:s, s:s, s:s?}", "key", text, "role", role_text, "name", name);
        free (text);
        command = "TRUST_ADD";
    }
    else
    if (streq (verb, "remove")) {
        request = json_pack ("{s:s}", "who", argument);
        command = "TRUST_REMOVE";
    }
    int rc = osmose_cli_call (cli, command, request, &reply);
    json_decref (request);
    if (rc)
        return rc;
    if (cli->json)
        osmose_cli_print_json (cli, reply);
    else
    if (streq (verb, "list")) {
        size_t index;
        json_t *entry;
        json_array_foreach (reply, index, entry)
            printf ("%-16s %-6s %-20s %s\n",
                    json_string_value (json_object_get (entry, "id")),
                    json_string_value (json_object_get (entry, "role")),
                    json_string_value (json_object_get (entry, "name")),
                    json_string_value (json_object_get (entry, "key")));
    }
    else
        printf ("%s %s\n", streq (verb, "add")? "enrolled": "removed",
                json_string_value (json_object_get (reply, "id")));
    json_decref (reply);
    return 0;
}
