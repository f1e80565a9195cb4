/* Every sys2 command, one line each: X(name, function, one-line summary). The function lives in cli/cmd_*.c
 * and has the signature int fn(int argc, char **argv), argv[0] being the command's name. */
#define S2_CLI_COMMANDS(X) \
    X("version", cmd_version, "print the version and the libraries linked") \
    X("tokenize", cmd_tokenize, "print the token ids of a text (GGUF vocab or llama2.c tok.bin)")
