using System.Runtime.InteropServices;

namespace CocoLaunch.Abi.IO;

/// <summary>
/// The file type (S_IFMT) of a path, following links. .NET's FileInfo describes a character device or a FIFO as a
/// normal empty file, so Linux's statx(2) is asked directly: its struct has one layout on every architecture.
/// </summary>
internal static partial class FileType
{
    public const uint Regular = 0x8000, Directory = 0x4000, CharDevice = 0x2000, BlockDevice = 0x6000, Fifo = 0x1000, Socket = 0xC000;

    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int StatxSize = 256;
    private const int ModeOffset = 28; // struct statx: stx_mask u32, stx_blksize u32, stx_attributes u64, stx_nlink, stx_uid, stx_gid u32, stx_mode u16

    /// <summary>The S_IFMT bits, or null where they cannot be learned (not Linux, or a libc without statx).</summary>
    public static uint? Of(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            var buffer = new byte[StatxSize];
            return Statx(AtFdCwd, path, 0, StatxType, buffer) == 0 ? (uint)(BitConverter.ToUInt16(buffer, ModeOffset) & 0xF000) : null;
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
    }

    public static string Name(uint type) => type switch
    {
        Directory => "directory",
        CharDevice => "character device",
        BlockDevice => "block device",
        Fifo => "FIFO (named pipe)",
        Socket => "socket",
        _ => $"special file (type 0x{type:x})",
    };

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, [Out] byte[] buffer);
}
