namespace Qcow2Mount.WinFsp.Interop;

/// <summary>The NTSTATUS values the shim returns (winfsp-notes §5); an NTSTATUS is a signed 32-bit value.</summary>
internal static class NtStatus
{
    public const int Success = 0;
    public const int BufferOverflow = unchecked((int)0x80000005);
    public const int InvalidHandle = unchecked((int)0xC0000008);
    public const int InvalidParameter = unchecked((int)0xC000000D);
    public const int InvalidDeviceRequest = unchecked((int)0xC0000010);
    public const int EndOfFile = unchecked((int)0xC0000011);
    public const int AccessDenied = unchecked((int)0xC0000022);
    public const int ObjectNameInvalid = unchecked((int)0xC0000033);
    public const int ObjectNameNotFound = unchecked((int)0xC0000034);
    public const int ObjectNameCollision = unchecked((int)0xC0000035);
    public const int ObjectPathNotFound = unchecked((int)0xC000003A);
    public const int DiskFull = unchecked((int)0xC000007F);
    public const int InsufficientResources = unchecked((int)0xC000009A);
    public const int MediaWriteProtected = unchecked((int)0xC00000A2);
    public const int DeviceNotReady = unchecked((int)0xC00000A3);
    public const int FileIsADirectory = unchecked((int)0xC00000BA);
    public const int NotSupported = unchecked((int)0xC00000BB);
    public const int NotADirectory = unchecked((int)0xC0000103);
    public const int FileCorruptError = unchecked((int)0xC0000102);
    public const int CannotDelete = unchecked((int)0xC0000121);
    public const int IoDeviceError = unchecked((int)0xC0000185);
}
