using System.Buffers.Binary;
using System.Security.Cryptography;

namespace CocoLaunch.Tests.Shared;

/// <summary>
/// An independent SNP launch digest for tests, written from snp-launch-digest.md §2 alone (the 0x70-byte PAGE_INFO,
/// LD = SHA-384 of it per 4 KiB page): it shares no code with the emulated firmware.
/// </summary>
internal sealed class ReferencePageInfo
{
    public const byte Normal = 1, Vmsa = 2, Zero = 3, Unmeasured = 4, Secrets = 5, Cpuid = 6;

    private byte[] ld = new byte[48];

    /// <summary>One page; <paramref name="page"/> is hashed into CONTENTS for NORMAL and VMSA, and ignored otherwise.</summary>
    public ReferencePageInfo Add(byte type, ulong gpa, ReadOnlySpan<byte> page = default)
    {
        var info = new byte[0x70];
        ld.CopyTo(info, 0);
        if (type is Normal or Vmsa)
        {
            var contents = new byte[4096];
            page.CopyTo(contents);
            SHA384.HashData(contents).CopyTo(info, 0x30);
        }

        BinaryPrimitives.WriteUInt16LittleEndian(info.AsSpan(0x60), 0x70);
        info[0x62] = type;
        BinaryPrimitives.WriteUInt64LittleEndian(info.AsSpan(0x68), gpa);
        ld = SHA384.HashData(info);
        return this;
    }

    public string Hex => Convert.ToHexStringLower(ld);
}
