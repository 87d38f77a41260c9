using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using CocoLaunch.Abi.IO;

namespace CocoLaunch.Vmm.Snp;

/// <summary>
/// QEMU's measured direct-boot table (kernel-hashes=on; snp-launch-digest.md §6): SHA-256 of the command line
/// (with its NUL), the initrd and the kernel, each behind its GUID, padded from 168 to 176 bytes.
/// </summary>
public static class SevHashTable
{
    public const int Length = 168;
    public const int PaddedLength = 176;
    private const ushort EntryLength = 50;

    private static readonly Guid TableGuid = new("9438d606-4f22-4cc9-b479-a793d411fd21");
    private static readonly Guid CmdlineGuid = new("97d02dd8-bd20-4c94-aa78-e7714d36ab2a");
    private static readonly Guid InitrdGuid = new("44baf731-3a2f-4bd7-9af1-41e29169781d");
    private static readonly Guid KernelGuid = new("4de79437-abd2-427f-b835-d5b172d2045b");

    /// <summary>The table for a direct boot's files, each hashed as it is read, so that neither is ever held whole.</summary>
    public static byte[] FromFiles(string kernelPath, string? initrdPath, string? cmdline)
    {
        var (kernel, _) = InputFile.HashData(kernelPath, InputFile.BootImageLimit, "kernel", HashAlgorithmName.SHA256);
        byte[] initrd = initrdPath is null ? SHA256.HashData([]) : InputFile.HashData(initrdPath, InputFile.BootImageLimit, "initrd", HashAlgorithmName.SHA256).Hash;
        return Build(kernel, initrd, cmdline);
    }

    private static byte[] Build(byte[] kernelHash, byte[] initrdHash, string? cmdline)
    {
        var table = new byte[PaddedLength];
        TableGuid.TryWriteBytes(table);
        BinaryPrimitives.WriteUInt16LittleEndian(table.AsSpan(16), Length);
        byte[] cmd = [.. Encoding.UTF8.GetBytes(cmdline ?? string.Empty), 0];
        Entry(table.AsSpan(18), CmdlineGuid, SHA256.HashData(cmd));
        Entry(table.AsSpan(68), InitrdGuid, initrdHash);
        Entry(table.AsSpan(118), KernelGuid, kernelHash);
        return table;
    }

    private static void Entry(Span<byte> at, Guid guid, byte[] hash)
    {
        guid.TryWriteBytes(at);
        BinaryPrimitives.WriteUInt16LittleEndian(at[16..], EntryLength);
        hash.CopyTo(at[18..]);
    }
}
