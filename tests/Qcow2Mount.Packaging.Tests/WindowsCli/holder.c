/* A Windows program that holds a file open the way another program would, for the image-lock tests under Wine:
 *   holder PATH write        read+write access, sharing everything (an editor, a VM that takes no locks)
 *   holder PATH read-locked  read access, sharing only reading (what a locked read-only open of ours does)
 *   holder PATH read-shared  read access, sharing everything (a force-share reader)
 * Prints "held" once the file is open, then keeps it open until its standard input ends. */
#include <windows.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: holder PATH write|read-locked|read-shared\n");
        return 2;
    }

    DWORD access = GENERIC_READ, share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
    if (strcmp(argv[2], "write") == 0) {
        access |= GENERIC_WRITE;
    } else if (strcmp(argv[2], "read-locked") == 0) {
        share = FILE_SHARE_READ | FILE_SHARE_DELETE;
    } else if (strcmp(argv[2], "read-shared") != 0) {
        fprintf(stderr, "unknown mode %s\n", argv[2]);
        return 2;
    }

    HANDLE file = CreateFileA(argv[1], access, share, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "cannot open %s: error %lu\n", argv[1], GetLastError());
        return 1;
    }

    printf("held\n");
    fflush(stdout);
    char line[16];
    while (fgets(line, sizeof line, stdin) != NULL) {
    }

    CloseHandle(file);
    return 0;
}
