/*
 * A stand-in for WinFsp's winfsp-x64.dll, for running the Qcow2Mount WinFsp shim under Wine (no driver there).
 * Written for Qcow2Mount from the layouts documented in shared/docs/winfsp-notes.md; it is not WinFsp code.
 *
 * It exports the functions the shim imports, checks the structures it is handed, and records every call in a report
 * file (FAKE_WINFSP_REPORT). FspFileSystemStartDispatcher starts a native thread that runs the script in
 * FAKE_WINFSP_SCRIPT against the shim's interface table, one callback per command, and writes what came back; when
 * the script ends it calls DispatcherStopped(FALSE) as WinFsp does when the volume goes away on its own.
 * FAKE_WINFSP_SWAP="a,b" swaps two slots of the table first (the test that proves a broken table is caught).
 * FAKE_WINFSP_HOLD=1 keeps the volume after the script (no DispatcherStopped of its own), as a real mount stays until
 * its server unmounts it: the CLI tests end it with `qcow2mount unmount` from another process.
 * The mount point is recorded and read back as given; NULL reads back as Q: (WinFsp would pick a free letter).
 * The test (WinFspWineTests.cs) judges the report; this file only drives and records.
 *
 * Script commands (handles H are 0..15; NAME is a path such as \disk.raw):
 *   volume                              GetVolumeInfo
 *   security NAME SIZE                  GetSecurityByName with a SIZE-byte buffer; on success the SDDL Windows reads from it
 *   open H NAME ACCESS OPTIONS          Open (hex ACCESS and OPTIONS)
 *   list H BUFSIZE                      ReadDirectory with BUFSIZE-byte buffers, following the marker to the end marker
 *   readall H SIZE CHUNK FILE           sequential reads of CHUNK bytes up to SIZE (the last one crossing the end), saved to FILE
 *   parallel H SIZE CHUNK THREADS       the same reads spread over THREADS native threads; reports the FNV-1a hash
 *   read H OFFSET LENGTH                one Read
 *   write H OFFSET LENGTH BYTE [c]      one Write of LENGTH bytes of BYTE (hex); "c" = ConstrainedIo
 *   flush H | flush -                   Flush of a file or of the volume
 *   getinfo H, setsize H SIZE, setbasic H CREATION LASTWRITE, cleanup H FLAGS, close H
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <sddl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

typedef LONG NTSTATUS;

typedef struct
{
    UINT16 Version, SectorSize, SectorsPerAllocationUnit, MaxComponentLength;
    UINT64 VolumeCreationTime;
    UINT32 VolumeSerialNumber, TransactTimeout, IrpTimeout, IrpCapacity, FileInfoTimeout, Flags;
    WCHAR Prefix[192];
    WCHAR FileSystemName[16];
    UINT32 Flags2, VolumeInfoTimeout, DirInfoTimeout, SecurityTimeout, StreamInfoTimeout, EaTimeout, FsextControlCode, Reserved32;
    UINT64 Reserved64[2];
} VOLUME_PARAMS;
_Static_assert(sizeof(VOLUME_PARAMS) == 504, "FSP_FSCTL_VOLUME_PARAMS is 504 bytes");
_Static_assert(offsetof(VOLUME_PARAMS, Flags) == 36, "flags at 36");
_Static_assert(offsetof(VOLUME_PARAMS, Prefix) == 40, "Prefix at 40");
_Static_assert(offsetof(VOLUME_PARAMS, FileSystemName) == 424, "FileSystemName at 424");
_Static_assert(offsetof(VOLUME_PARAMS, Flags2) == 456, "V1 flags at 456");

typedef struct
{
    UINT64 TotalSize, FreeSize;
    UINT16 VolumeLabelLength;
    WCHAR VolumeLabel[32];
} VOLUME_INFO;
_Static_assert(sizeof(VOLUME_INFO) == 88, "FSP_FSCTL_VOLUME_INFO is 88 bytes");

typedef struct
{
    UINT32 FileAttributes, ReparseTag;
    UINT64 AllocationSize, FileSize, CreationTime, LastAccessTime, LastWriteTime, ChangeTime, IndexNumber;
    UINT32 HardLinks, EaSize;
} FILE_INFO;
_Static_assert(sizeof(FILE_INFO) == 72, "FSP_FSCTL_FILE_INFO is 72 bytes");

typedef struct
{
    UINT16 Size;
    FILE_INFO FileInfo;
    UINT8 Padding[24];
} DIR_INFO;
_Static_assert(sizeof(DIR_INFO) == 104, "FSP_FSCTL_DIR_INFO header is 104 bytes");
_Static_assert(offsetof(DIR_INFO, FileInfo) == 8, "DIR_INFO FileInfo at 8");

typedef struct
{
    UINT16 Version;
    PVOID UserContext;
    BYTE Rest[792 - 16];
} FILE_SYSTEM;
_Static_assert(sizeof(FILE_SYSTEM) == 792, "FSP_FILE_SYSTEM is 792 bytes on 64-bit");
_Static_assert(offsetof(FILE_SYSTEM, UserContext) == 8, "UserContext at sizeof(void*)");

typedef struct
{
    NTSTATUS (*GetVolumeInfo)(FILE_SYSTEM *, VOLUME_INFO *);
    PVOID SetVolumeLabel;
    NTSTATUS (*GetSecurityByName)(FILE_SYSTEM *, PWSTR, PUINT32, PVOID, SIZE_T *);
    PVOID Create;
    NTSTATUS (*Open)(FILE_SYSTEM *, PWSTR, UINT32, UINT32, PVOID *, FILE_INFO *);
    PVOID Overwrite;
    VOID (*Cleanup)(FILE_SYSTEM *, PVOID, PWSTR, ULONG);
    VOID (*Close)(FILE_SYSTEM *, PVOID);
    NTSTATUS (*Read)(FILE_SYSTEM *, PVOID, PVOID, UINT64, ULONG, PULONG);
    NTSTATUS (*Write)(FILE_SYSTEM *, PVOID, PVOID, UINT64, ULONG, BOOLEAN, BOOLEAN, PULONG, FILE_INFO *);
    NTSTATUS (*Flush)(FILE_SYSTEM *, PVOID, FILE_INFO *);
    NTSTATUS (*GetFileInfo)(FILE_SYSTEM *, PVOID, FILE_INFO *);
    NTSTATUS (*SetBasicInfo)(FILE_SYSTEM *, PVOID, UINT32, UINT64, UINT64, UINT64, UINT64, FILE_INFO *);
    NTSTATUS (*SetFileSize)(FILE_SYSTEM *, PVOID, UINT64, BOOLEAN, FILE_INFO *);
    PVOID CanDelete, Rename, GetSecurity, SetSecurity;
    NTSTATUS (*ReadDirectory)(FILE_SYSTEM *, PVOID, PWSTR, PWSTR, PVOID, ULONG, PULONG);
    PVOID Slots19To31[13];
    VOID (*DispatcherStopped)(FILE_SYSTEM *, BOOLEAN);
    PVOID Reserved[31];
} FS_INTERFACE;
_Static_assert(sizeof(FS_INTERFACE) == 64 * sizeof(PVOID), "FSP_FILE_SYSTEM_INTERFACE has 64 slots");
_Static_assert(offsetof(FS_INTERFACE, Open) == 4 * 8, "Open is slot 4");
_Static_assert(offsetof(FS_INTERFACE, Read) == 8 * 8, "Read is slot 8");
_Static_assert(offsetof(FS_INTERFACE, Flush) == 10 * 8, "Flush is slot 10");
_Static_assert(offsetof(FS_INTERFACE, ReadDirectory) == 18 * 8, "ReadDirectory is slot 18");
_Static_assert(offsetof(FS_INTERFACE, DispatcherStopped) == 32 * 8, "DispatcherStopped is slot 32");

#define STATUS_SUCCESS 0
#define MAX_HANDLES 16

static CRITICAL_SECTION report_lock;
static FILE *report;
static FILE_SYSTEM *the_fs;
static FS_INTERFACE table;           /* the shim's table, with FAKE_WINFSP_SWAP applied */
static HANDLE scenario_thread;
static volatile LONG stopped_reported;
static PVOID handles[MAX_HANDLES];
static WCHAR mount_point[MAX_PATH] = L"Q:";

static void record(const char *format, ...)
{
    va_list args;
    EnterCriticalSection(&report_lock);
    if (report)
    {
        va_start(args, format);
        vfprintf(report, format, args);
        va_end(args);
        fputc('\n', report);
        fflush(report);
    }
    LeaveCriticalSection(&report_lock);
}

static void open_report(void)
{
    static LONG opened;
    if (InterlockedExchange(&opened, 1))
        return;
    InitializeCriticalSection(&report_lock);
    const char *path = getenv("FAKE_WINFSP_REPORT");
    report = path ? fopen(path, "w") : stderr;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance; (void)reserved;
    if (reason == DLL_PROCESS_ATTACH)
        open_report();
    return TRUE;
}

/* Called by the test driver (not by the shim) to put engine events into the same ordered report. */
__declspec(dllexport) void FakeWinFsp_Note(const WCHAR *text)
{
    record("note %ls", text);
}

__declspec(dllexport) NTSTATUS FspVersion(UINT32 *version)
{
    record("FspVersion");
    *version = (2u << 16) | 1;
    return STATUS_SUCCESS;
}

static void apply_swap(void)
{
    const char *swap = getenv("FAKE_WINFSP_SWAP");
    int a, b;
    if (swap && sscanf(swap, "%d,%d", &a, &b) == 2 && a >= 0 && b >= 0 && a < 64 && b < 64)
    {
        PVOID *slots = (PVOID *)&table;
        PVOID t = slots[a];
        slots[a] = slots[b];
        slots[b] = t;
        record("swapped slots %d %d", a, b);
    }
}

__declspec(dllexport) NTSTATUS FspFileSystemCreate(PWSTR device, const VOLUME_PARAMS *params, const FS_INTERFACE *iface, FILE_SYSTEM **out)
{
    WCHAR name[17] = {0};
    memcpy(name, params->FileSystemName, sizeof(params->FileSystemName));
    record("Create device=%ls version=%u sector=%u flags=0x%08X name=%ls prefix=%ls", device, params->Version,
        params->SectorSize, params->Flags, name, params->Prefix[0] ? params->Prefix : L"-");
    table = *iface;
    apply_swap();
    the_fs = (FILE_SYSTEM *)calloc(1, sizeof(FILE_SYSTEM));
    *out = the_fs;
    return STATUS_SUCCESS;
}

__declspec(dllexport) NTSTATUS FspFileSystemSetMountPoint(FILE_SYSTEM *fs, PWSTR point)
{
    record("SetMountPoint %ls usercontext=%s", point ? point : L"(null)", fs->UserContext ? "set" : "null");
    if (point)
        lstrcpynW(mount_point, point, MAX_PATH);
    return STATUS_SUCCESS;
}

__declspec(dllexport) PWSTR FspFileSystemMountPointF(FILE_SYSTEM *fs)
{
    (void)fs;
    return mount_point;
}

__declspec(dllexport) BOOLEAN FspFileSystemAddDirInfo(DIR_INFO *info, PVOID buffer, ULONG length, PULONG transferred)
{
    ULONG offset = (*transferred + 7) & ~7u;
    ULONG size = info ? info->Size : sizeof(UINT16);
    if (offset > length || size > length - offset)
        return FALSE;
    if (info)
        memcpy((BYTE *)buffer + offset, info, size);
    else
        *(UINT16 *)((BYTE *)buffer + offset) = 0;
    *transferred = offset + size;
    return TRUE;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* The scenario */

static UINT64 fnv1a(UINT64 hash, const BYTE *data, size_t length)
{
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ data[i]) * 1099511628211ull;
    return hash;
}

static PVOID handle_of(const char *token)
{
    int h = atoi(token);
    return h >= 0 && h < MAX_HANDLES ? handles[h] : NULL;
}

static void widen(const char *text, WCHAR *out, size_t capacity)
{
    MultiByteToWideChar(CP_UTF8, 0, text, -1, out, (int)capacity);
}

static void do_security(const char *name, SIZE_T size)
{
    WCHAR wname[512];
    BYTE sd[4096];
    UINT32 attributes = 0;
    SIZE_T given = size;
    widen(name, wname, 512);
    NTSTATUS s = table.GetSecurityByName(the_fs, wname, &attributes, sd, &given);
    char sddl[512] = "-";
    if (s == STATUS_SUCCESS)
    {
        LPWSTR text = NULL;
        if (!IsValidSecurityDescriptor(sd))
            strcpy(sddl, "invalid");
        else if (ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1,
                OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &text, NULL))
        {
            WideCharToMultiByte(CP_UTF8, 0, text, -1, sddl, sizeof(sddl), NULL, NULL);
            LocalFree(text);
        }
        else
            sprintf(sddl, "unconvertible-%lu", GetLastError());
    }
    record("security %s status=0x%08lX attributes=0x%X size=%llu sddl=%s", name, (unsigned long)s, attributes,
        (unsigned long long)given, sddl);
}

static void do_open(const char *h, const char *name, const char *access, const char *options)
{
    WCHAR wname[512];
    FILE_INFO info = {0};
    PVOID context = NULL;
    widen(name, wname, 512);
    NTSTATUS s = table.Open(the_fs, wname, (UINT32)strtoul(options, NULL, 16), (UINT32)strtoul(access, NULL, 16), &context, &info);
    if (s == STATUS_SUCCESS)
        handles[atoi(h)] = context;
    record("open %s %s status=0x%08lX size=%llu attributes=0x%X", h, name, (unsigned long)s,
        (unsigned long long)info.FileSize, info.FileAttributes);
}

static void do_list(const char *h, ULONG bufsize)
{
    PVOID dir = handle_of(h);
    BYTE *buffer = (BYTE *)malloc(bufsize);
    WCHAR marker[256] = {0};
    char names[4096] = "";
    int calls = 0, ended = 0;
    NTSTATUS s = STATUS_SUCCESS;
    while (!ended && calls < 100)
    {
        ULONG transferred = 0;
        int added = 0;
        s = table.ReadDirectory(the_fs, dir, NULL, marker[0] ? marker : NULL, buffer, bufsize, &transferred);
        calls++;
        if (s != STATUS_SUCCESS)
            break;
        for (ULONG at = 0; at + sizeof(UINT16) <= transferred; at = (at + 7) & ~7u)
        {
            DIR_INFO *entry = (DIR_INFO *)(buffer + at);
            if (entry->Size == 0)
            {
                ended = 1;
                break;
            }
            size_t chars = (entry->Size - sizeof(DIR_INFO)) / sizeof(WCHAR);
            char name[512];
            int n = WideCharToMultiByte(CP_UTF8, 0, (WCHAR *)(entry + 1), (int)chars, name, sizeof(name) - 1, NULL, NULL);
            name[n] = 0;
            char item[600];
            snprintf(item, sizeof(item), "%s%s:%llu", names[0] ? "," : "", name, (unsigned long long)entry->FileInfo.FileSize);
            strncat(names, item, sizeof(names) - strlen(names) - 1);
            memcpy(marker, entry + 1, chars * sizeof(WCHAR));
            marker[chars] = 0;
            added++;
            at += entry->Size;
        }
        if (!ended && added == 0)
            break; /* no progress: the buffer cannot hold one entry */
    }
    free(buffer);
    record("list %s status=0x%08lX calls=%d ended=%d names=%s", h, (unsigned long)s, calls, ended, names);
}

static void do_readall(const char *h, UINT64 size, ULONG chunk, const char *path)
{
    PVOID file = handle_of(h);
    BYTE *buffer = (BYTE *)malloc(chunk);
    FILE *out = fopen(path, "wb");
    UINT64 hash = 14695981039346656037ull, total = 0;
    int calls = 0, wrong = 0;
    NTSTATUS s = STATUS_SUCCESS;
    for (UINT64 offset = 0; offset < size; offset += chunk)
    {
        ULONG got = 0;
        s = table.Read(the_fs, file, buffer, offset, chunk, &got);
        calls++;
        if (s != STATUS_SUCCESS)
            break;
        UINT64 want = size - offset < chunk ? size - offset : chunk;
        if (got != want)
            wrong++;
        hash = fnv1a(hash, buffer, got);
        if (out)
            fwrite(buffer, 1, got, out);
        total += got;
    }
    if (out)
        fclose(out);
    free(buffer);
    record("readall %s status=0x%08lX bytes=%llu calls=%d wrongcounts=%d hash=%016llX", h, (unsigned long)s,
        (unsigned long long)total, calls, wrong, (unsigned long long)hash);
}

typedef struct
{
    PVOID file;
    UINT64 size, first;
    ULONG chunk, stride;
    BYTE *target;
    NTSTATUS status;
    DWORD thread_id;
} STRIPE;

static DWORD WINAPI read_stripe(LPVOID arg)
{
    STRIPE *stripe = (STRIPE *)arg;
    stripe->thread_id = GetCurrentThreadId();
    for (UINT64 offset = stripe->first; offset < stripe->size; offset += (UINT64)stripe->chunk * stripe->stride)
    {
        ULONG got = 0;
        NTSTATUS s = table.Read(the_fs, stripe->file, stripe->target + offset, offset, stripe->chunk, &got);
        if (s != STATUS_SUCCESS)
        {
            stripe->status = s;
            return 0;
        }
    }
    return 0;
}

static void do_parallel(const char *h, UINT64 size, ULONG chunk, int threads)
{
    /* room for the last chunk crossing the end */
    BYTE *data = (BYTE *)calloc(1, size + chunk);
    STRIPE stripes[16];
    HANDLE workers[16];
    if (threads > 16)
        threads = 16;
    for (int i = 0; i < threads; i++)
    {
        stripes[i] = (STRIPE){ handle_of(h), size, (UINT64)i * chunk, chunk, (ULONG)threads, data, STATUS_SUCCESS, 0 };
        workers[i] = CreateThread(NULL, 0, read_stripe, &stripes[i], 0, NULL);
    }
    WaitForMultipleObjects((DWORD)threads, workers, TRUE, 60000);
    NTSTATUS s = STATUS_SUCCESS;
    int distinct = 0;
    for (int i = 0; i < threads; i++)
    {
        CloseHandle(workers[i]);
        if (stripes[i].status != STATUS_SUCCESS)
            s = stripes[i].status;
        if (stripes[i].thread_id != 0 && stripes[i].thread_id != GetCurrentThreadId())
            distinct++;
    }
    UINT64 hash = fnv1a(14695981039346656037ull, data, size);
    free(data);
    record("parallel %s status=0x%08lX threads=%d hash=%016llX", h, (unsigned long)s, distinct, (unsigned long long)hash);
}

static void do_read(const char *h, UINT64 offset, ULONG length)
{
    BYTE *buffer = (BYTE *)malloc(length ? length : 1);
    ULONG got = 12345;
    NTSTATUS s = table.Read(the_fs, handle_of(h), buffer, offset, length, &got);
    free(buffer);
    record("read %s offset=%llu status=0x%08lX bytes=%lu", h, (unsigned long long)offset, (unsigned long)s,
        s == STATUS_SUCCESS ? got : 0ul);
}

static void do_write(const char *h, UINT64 offset, ULONG length, BYTE value, int constrained)
{
    BYTE *buffer = (BYTE *)malloc(length ? length : 1);
    memset(buffer, value, length);
    ULONG got = 0;
    FILE_INFO info = {0};
    NTSTATUS s = table.Write(the_fs, handle_of(h), buffer, offset, length, FALSE, (BOOLEAN)constrained, &got, &info);
    free(buffer);
    record("write %s offset=%llu status=0x%08lX bytes=%lu size=%llu", h, (unsigned long long)offset, (unsigned long)s,
        got, (unsigned long long)info.FileSize);
}

static void run_line(char *line)
{
    char *argv[8] = {0};
    int argc = 0;
    for (char *token = strtok(line, " \t\r\n"); token && argc < 8; token = strtok(NULL, " \t\r\n"))
        argv[argc++] = token;
    if (argc == 0 || argv[0][0] == '#')
        return;
    const char *op = argv[0];
    FILE_INFO info = {0};
    if (!strcmp(op, "volume"))
    {
        VOLUME_INFO v = {0};
        NTSTATUS s = table.GetVolumeInfo(the_fs, &v);
        record("volume status=0x%08lX total=%llu free=%llu label=%.*ls", (unsigned long)s, (unsigned long long)v.TotalSize,
            (unsigned long long)v.FreeSize, (int)(v.VolumeLabelLength / sizeof(WCHAR)), v.VolumeLabel);
    }
    else if (!strcmp(op, "security") && argc == 3)
        do_security(argv[1], (SIZE_T)strtoull(argv[2], NULL, 10));
    else if (!strcmp(op, "open") && argc == 5)
        do_open(argv[1], argv[2], argv[3], argv[4]);
    else if (!strcmp(op, "list") && argc == 3)
        do_list(argv[1], (ULONG)strtoul(argv[2], NULL, 10));
    else if (!strcmp(op, "readall") && argc == 5)
        do_readall(argv[1], strtoull(argv[2], NULL, 10), (ULONG)strtoul(argv[3], NULL, 10), argv[4]);
    else if (!strcmp(op, "parallel") && argc == 5)
        do_parallel(argv[1], strtoull(argv[2], NULL, 10), (ULONG)strtoul(argv[3], NULL, 10), atoi(argv[4]));
    else if (!strcmp(op, "read") && argc == 4)
        do_read(argv[1], strtoull(argv[2], NULL, 10), (ULONG)strtoul(argv[3], NULL, 10));
    else if (!strcmp(op, "write") && argc >= 5)
        do_write(argv[1], strtoull(argv[2], NULL, 10), (ULONG)strtoul(argv[3], NULL, 10), (BYTE)strtoul(argv[4], NULL, 16),
            argc == 6 && !strcmp(argv[5], "c"));
    else if (!strcmp(op, "flush") && argc == 2)
    {
        NTSTATUS s = table.Flush(the_fs, strcmp(argv[1], "-") ? handle_of(argv[1]) : NULL, &info);
        record("flush %s status=0x%08lX", argv[1], (unsigned long)s);
    }
    else if (!strcmp(op, "getinfo") && argc == 2)
    {
        NTSTATUS s = table.GetFileInfo(the_fs, handle_of(argv[1]), &info);
        record("getinfo %s status=0x%08lX size=%llu attributes=0x%X creation=%llu lastwrite=%llu", argv[1], (unsigned long)s,
            (unsigned long long)info.FileSize, info.FileAttributes, (unsigned long long)info.CreationTime,
            (unsigned long long)info.LastWriteTime);
    }
    else if (!strcmp(op, "setsize") && argc == 3)
    {
        NTSTATUS s = table.SetFileSize(the_fs, handle_of(argv[1]), strtoull(argv[2], NULL, 10), FALSE, &info);
        record("setsize %s status=0x%08lX", argv[1], (unsigned long)s);
    }
    else if (!strcmp(op, "setbasic") && argc == 4)
    {
        NTSTATUS s = table.SetBasicInfo(the_fs, handle_of(argv[1]), 0xFFFFFFFFu, strtoull(argv[2], NULL, 10), 0,
            strtoull(argv[3], NULL, 10), 0, &info);
        record("setbasic %s status=0x%08lX creation=%llu lastwrite=%llu", argv[1], (unsigned long)s,
            (unsigned long long)info.CreationTime, (unsigned long long)info.LastWriteTime);
    }
    else if (!strcmp(op, "cleanup") && argc == 3)
    {
        table.Cleanup(the_fs, handle_of(argv[1]), NULL, (ULONG)strtoul(argv[2], NULL, 16));
        record("cleanup %s", argv[1]);
    }
    else if (!strcmp(op, "close") && argc == 2)
    {
        table.Close(the_fs, handle_of(argv[1]));
        handles[atoi(argv[1])] = NULL;
        record("close %s", argv[1]);
    }
    else
        record("bad-command %s", op);
}

static void report_stopped(BOOLEAN normally)
{
    if (InterlockedExchange(&stopped_reported, 1) == 0)
    {
        record("DispatcherStopped %d", normally);
        table.DispatcherStopped(the_fs, normally);
    }
}

static DWORD WINAPI run_scenario(LPVOID arg)
{
    (void)arg;
    const char *path = getenv("FAKE_WINFSP_SCRIPT");
    FILE *script = path ? fopen(path, "r") : NULL;
    char line[1024];
    record("scenario thread=%lu", GetCurrentThreadId());
    while (script && fgets(line, sizeof(line), script))
        run_line(line);
    if (script)
        fclose(script);
    record("scenario end");
    const char *hold = getenv("FAKE_WINFSP_HOLD");
    if (!(hold && hold[0] == '1'))
        report_stopped(FALSE);
    return 0;
}

__declspec(dllexport) NTSTATUS FspFileSystemStartDispatcher(FILE_SYSTEM *fs, ULONG threads)
{
    (void)fs;
    record("StartDispatcher threads=%lu caller=%lu", threads, GetCurrentThreadId());
    scenario_thread = CreateThread(NULL, 0, run_scenario, NULL, 0, NULL);
    return scenario_thread ? STATUS_SUCCESS : (NTSTATUS)0xC000009A;
}

__declspec(dllexport) VOID FspFileSystemStopDispatcher(FILE_SYSTEM *fs)
{
    (void)fs;
    if (scenario_thread)
    {
        WaitForSingleObject(scenario_thread, 60000);
        CloseHandle(scenario_thread);
        scenario_thread = NULL;
    }
    record("StopDispatcher");
    report_stopped(TRUE);
}

__declspec(dllexport) VOID FspFileSystemRemoveMountPoint(FILE_SYSTEM *fs)
{
    (void)fs;
    record("RemoveMountPoint");
}

__declspec(dllexport) VOID FspFileSystemDelete(FILE_SYSTEM *fs)
{
    record("Delete");
    if (fs == the_fs)
        the_fs = NULL;
    free(fs);
}
