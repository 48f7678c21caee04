/*
 * hold_file FILE SECONDS: opens FILE for reading and writing with no sharing (as another program that has the file
 * open exclusively would), prints "held", and keeps it open for SECONDS (the test ends it sooner).
 * Written for Qcow2Mount's Wine tests (the "image in use" message).
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int wmain(int argc, wchar_t **argv)
{
    if (argc != 3)
    {
        fprintf(stderr, "usage: hold_file FILE SECONDS\n");
        return 1;
    }
    HANDLE file = CreateFileW(argv[1], GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE)
    {
        fprintf(stderr, "hold_file: cannot open (error %lu)\n", GetLastError());
        return 2;
    }
    printf("held\n");
    fflush(stdout);
    Sleep((DWORD)wcstoul(argv[2], NULL, 10) * 1000);
    CloseHandle(file);
    return 0;
}
