using System.Buffers.Binary;

namespace CocoLaunch.Firmware.Snp;

/// <summary>The 96-byte SNP ID block (snp-launch-digest.md §14): what the guest owner expects the launch to be.</summary>
public sealed record IdBlock(byte[] LaunchDigest, byte[] FamilyId, byte[] ImageId, uint GuestSvn, ulong Policy, uint Version = 1)
{
    public const int Size = 96;

    private const int LdOffset = 0x00;
    private const int FamilyIdOffset = 0x30;
    private const int ImageIdOffset = 0x40;
    private const int VersionOffset = 0x50;
    private const int GuestSvnOffset = 0x54;
    private const int PolicyOffset = 0x58;

    public static IdBlock Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new ArgumentException($"an ID block is {Size} bytes, not {bytes.Length}", nameof(bytes));
        }

        return new IdBlock(
            bytes.Slice(LdOffset, 48).ToArray(),
            bytes.Slice(FamilyIdOffset, 16).ToArray(),
            bytes.Slice(ImageIdOffset, 16).ToArray(),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[GuestSvnOffset..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[PolicyOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[VersionOffset..]));
    }

    public byte[] ToBytes()
    {
        if (LaunchDigest.Length != 48 || FamilyId.Length != 16 || ImageId.Length != 16)
        {
            throw new ArgumentException("an ID block holds a 48-byte digest and 16-byte family and image ids");
        }

        var b = new byte[Size];
        LaunchDigest.CopyTo(b, LdOffset);
        FamilyId.CopyTo(b, FamilyIdOffset);
        ImageId.CopyTo(b, ImageIdOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(VersionOffset), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(GuestSvnOffset), GuestSvn);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(PolicyOffset), Policy);
        return b;
    }
}
