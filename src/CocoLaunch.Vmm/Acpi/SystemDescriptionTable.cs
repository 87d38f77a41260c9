using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>The 36-byte header every system description table starts with (ACPI 6.5 §5.2.6, Table 5.4).</summary>
internal static class SystemDescriptionTable
{
    public const int HeaderLength = 36;

    public const int Signature = 0;
    public const int Length = 4;
    public const int Revision = 8;
    public const int Checksum = 9;
    public const int OemId = 10;
    public const int OemTableId = 16;
    public const int OemRevision = 24;
    public const int CreatorId = 28;
    public const int CreatorRevision = 32;

    public const string Oem = "COCOLA";
    public const string OemTable = "COCOLNCH";
    public const string Creator = "COCO";
    public const uint Revision1 = 1;

    /// <summary>A zeroed table of <paramref name="length"/> bytes with its header filled in except the checksum.</summary>
    public static byte[] Create(string signature, int length, byte revision) => Create(signature, length, revision, Oem, OemTable, Creator);

    /// <summary>The same with another OEM ID (6 characters), OEM table ID (8) and creator ID (4).</summary>
    public static byte[] Create(string signature, int length, byte revision, string oemId, string oemTableId, string creatorId)
    {
        var table = new byte[length];
        Span<byte> t = table;
        Encoding.ASCII.GetBytes(signature, t[Signature..]);
        BinaryPrimitives.WriteUInt32LittleEndian(t[Length..], (uint)length);
        t[Revision] = revision;
        Encoding.ASCII.GetBytes(oemId, t[OemId..]);
        Encoding.ASCII.GetBytes(oemTableId, t[OemTableId..]);
        BinaryPrimitives.WriteUInt32LittleEndian(t[OemRevision..], Revision1);
        Encoding.ASCII.GetBytes(creatorId, t[CreatorId..]);
        BinaryPrimitives.WriteUInt32LittleEndian(t[CreatorRevision..], Revision1);
        return table;
    }

    /// <summary>Fills the checksum once the body is final.</summary>
    public static byte[] Seal(byte[] table)
    {
        AcpiChecksum.Fill(table, Checksum);
        return table;
    }
}
