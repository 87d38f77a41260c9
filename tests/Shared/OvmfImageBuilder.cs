using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Tests.Shared;

/// <summary>Builds small OVMF-style images (GUID table, TDVF descriptor, ASEV block) for malformed-input tests.</summary>
/// <remarks>The layout rules follow shared/vectors/synthetic/README.md; the filler is zeros.</remarks>
internal sealed class OvmfImageBuilder(int size = 0x10000)
{
    public static readonly Guid Footer = new("96b582de-1fb2-45f7-baea-a366c55a082d");
    public static readonly Guid TdxOffset = new("e47a6535-984a-4798-865e-4685a7bf8ec2");
    public static readonly Guid TdxMetadataGuid = new("e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae");
    public static readonly Guid SevOffset = new("dc886566-984a-4798-a75e-5585a7bf67cc");
    public static readonly Guid ResetBlock = new("00f771de-1a7e-4fcb-890e-68c77e2fb44e");
    public static readonly Guid HashTable = new("7255371f-3a3b-4b04-927b-1da6efa8d454");

    private readonly byte[] image = new byte[size];
    private readonly List<(Guid Guid, byte[] Payload)> entries = [];

    public int Size => image.Length;

    /// <summary>Adds a table entry; entries are laid out lowest address first, in call order.</summary>
    public OvmfImageBuilder Entry(Guid guid, byte[] payload)
    {
        entries.Add((guid, payload));
        return this;
    }

    public OvmfImageBuilder Entry(Guid guid, params uint[] words) => Entry(guid, words.SelectMany(BitConverter.GetBytes).ToArray());

    /// <summary>A TDVF descriptor at <c>size − offsetFromEnd</c> with the given 32-byte sections.</summary>
    public OvmfImageBuilder Tdvf(uint offsetFromEnd, params TdvfEntry[] sections)
    {
        int at = image.Length - (int)offsetFromEnd;
        TdxMetadataGuid.ToByteArray().CopyTo(image, at - 16);
        Encoding.ASCII.GetBytes("TDVF").CopyTo(image, at);
        U32(at + 4, (uint)(16 + 32 * sections.Length));
        U32(at + 8, 1);
        U32(at + 12, (uint)sections.Length);
        for (int i = 0; i < sections.Length; i++)
        {
            sections[i].WriteTo(image.AsSpan(at + 16 + 32 * i, 32));
        }

        return Entry(TdxOffset, offsetFromEnd);
    }

    /// <summary>An ASEV block at <c>size − offsetFromEnd</c> with (gpa, size, type) descriptors.</summary>
    public OvmfImageBuilder Asev(uint offsetFromEnd, params (uint Gpa, uint Size, uint Type)[] sections)
    {
        int at = image.Length - (int)offsetFromEnd;
        Encoding.ASCII.GetBytes("ASEV").CopyTo(image, at);
        U32(at + 4, (uint)(16 + 12 * sections.Length));
        U32(at + 8, 1);
        U32(at + 12, (uint)sections.Length);
        for (int i = 0; i < sections.Length; i++)
        {
            U32(at + 16 + 12 * i, sections[i].Gpa);
            U32(at + 20 + 12 * i, sections[i].Size);
            U32(at + 24 + 12 * i, sections[i].Type);
        }

        return Entry(SevOffset, offsetFromEnd);
    }

    public byte[] Build()
    {
        int total = entries.Sum(e => e.Payload.Length + 18) + 18;
        int pos = image.Length - 32 - total;
        foreach (var (guid, payload) in entries)
        {
            payload.CopyTo(image, pos);
            pos += payload.Length;
            BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(pos), (ushort)(payload.Length + 18));
            guid.ToByteArray().CopyTo(image, pos + 2);
            pos += 18;
        }

        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(pos), (ushort)total);
        Footer.ToByteArray().CopyTo(image, pos + 2);
        return (byte[])image.Clone();
    }

    /// <summary>The two-section TDVF layout most tests start from: a BFV holding the image's last page, and a TempMem.</summary>
    public static TdvfEntry[] MinimalTdvf(int imageSize) =>
    [
        new TdvfEntry((uint)imageSize - 0x1000, 0x1000, 0x1_0000_0000 - 0x1000, 0x1000, 0, 1),
        new TdvfEntry(0, 0, 0x80_0000, 0x2000, 3, 0),
    ];

    private void U32(int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(at), value);
}

/// <summary>One 32-byte TDVF section entry, field for field.</summary>
internal readonly record struct TdvfEntry(uint DataOffset, uint RawSize, ulong Gpa, ulong MemSize, uint Type, uint Attributes)
{
    public void WriteTo(Span<byte> e)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(e, DataOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], RawSize);
        BinaryPrimitives.WriteUInt64LittleEndian(e[8..], Gpa);
        BinaryPrimitives.WriteUInt64LittleEndian(e[16..], MemSize);
        BinaryPrimitives.WriteUInt32LittleEndian(e[24..], Type);
        BinaryPrimitives.WriteUInt32LittleEndian(e[28..], Attributes);
    }
}
