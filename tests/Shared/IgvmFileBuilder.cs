using System.Buffers.Binary;

namespace CocoLaunch.Tests.Shared;

/// <summary>
/// Builds IGVM files byte by byte for tests, from the layouts in microsoft/igvm igvm_defs/src/lib.rs at commit
/// e6c3ff1c34c3570e91e6c29bf3375313f5fafc39 (IGVM_FIXED_HEADER, IGVM_VHS_*), with its own CRC-32. It shares no code
/// with the product reader (CocoLaunch.Formats.Igvm) and uses raw numbers, not the reader's enums, so the two can
/// disagree when one of them is wrong.
/// </summary>
internal sealed class IgvmFileBuilder
{
    // igvm_defs: IgvmVariableHeaderType.
    public const uint SupportedPlatform = 0x001, GuestPolicy = 0x101, RelocatableRegion = 0x102, PageTableRelocation = 0x103;
    public const uint CorimDocument = 0x104, CorimSignature = 0x105, CcaPolicy = 0x106;
    public const uint ParameterArea = 0x301, PageData = 0x302, ParameterInsert = 0x303, VpContext = 0x304, RequiredMemory = 0x305;
    public const uint VpCount = 0x307, Srat = 0x308, Madt = 0x309, MmioRanges = 0x30A, SnpIdBlock = 0x30B, MemoryMap = 0x30C;
    public const uint ErrorRange = 0x30D, CommandLine = 0x30E, Slit = 0x30F, Pptt = 0x310, VbsMeasurement = 0x311, DeviceTree = 0x312;
    public const uint EnvironmentInfo = 0x313, MayIgnore = 0x8000_0000;

    // igvm_defs: IgvmPlatformType.
    public const byte Native = 0, Vsm = 1, SevSnp = 2, Tdx = 3, Sev = 4, SevEs = 5, Cca = 6;

    // igvm_defs: IgvmPageDataFlags bits.
    public const uint Flag2Mb = 1, FlagUnmeasured = 2, FlagShared = 4;

    private readonly List<Entry> headers = [];
    private readonly List<byte[]> data = [];

    /// <summary>1, or 2 for IGVM_FIXED_HEADER_V2 (architecture and page size follow the v1 fields).</summary>
    public uint Version { get; init; } = 1;

    public uint Architecture { get; init; }

    public uint PageSizeV2 { get; init; } = 4096;

    public int Count => headers.Count;

    /// <summary>A header with a raw value; <paramref name="length"/> overrides the stored length (the value is still padded to 8).</summary>
    public IgvmFileBuilder Header(uint type, byte[] value, uint? length = null)
    {
        headers.Add(new Entry(type, value, length, -1, -1));
        return this;
    }

    /// <summary>A header whose u32 at <paramref name="fileOffsetAt"/> is patched to the file offset of <paramref name="blob"/> when built.</summary>
    public IgvmFileBuilder HeaderWithData(uint type, byte[] value, int fileOffsetAt, byte[] blob)
    {
        data.Add(blob);
        headers.Add(new Entry(type, value, null, fileOffsetAt, data.Count - 1));
        return this;
    }

    public IgvmFileBuilder Platform(uint mask, byte platform, byte highestVtl = 0, ushort version = 1, ulong sharedGpaBoundary = 0) =>
        Header(SupportedPlatform, new V(16).U32(0, mask).U8(4, highestVtl).U8(5, platform).U16(6, version).U64(8, sharedGpaBoundary));

    public IgvmFileBuilder Policy(ulong policy, uint mask) => Header(GuestPolicy, new V(16).U64(0, policy).U32(8, mask));

    /// <summary>IGVM_VHS_PAGE_DATA; no data is a zero page (file offset 0).</summary>
    public IgvmFileBuilder Page(ulong gpa, uint mask, byte[]? bytes = null, uint flags = 0, ushort dataType = 0)
    {
        byte[] value = new V(24).U64(0, gpa).U32(8, mask).U32(16, flags).U16(20, dataType);
        return bytes is null ? Header(PageData, value) : HeaderWithData(PageData, value, 12, bytes);
    }

    public IgvmFileBuilder Area(ulong bytes, uint index, byte[]? initial = null)
    {
        byte[] value = new V(16).U64(0, bytes).U32(8, index);
        return initial is null ? Header(ParameterArea, value) : HeaderWithData(ParameterArea, value, 12, initial);
    }

    public IgvmFileBuilder Parameter(uint type, uint index, uint byteOffset = 0) => Header(type, new V(8).U32(0, index).U32(4, byteOffset));

    public IgvmFileBuilder Insert(ulong gpa, uint mask, uint index) => Header(ParameterInsert, new V(16).U64(0, gpa).U32(8, mask).U32(12, index));

    /// <summary>IGVM_VHS_VP_CONTEXT: 20 bytes, the one structure padded to 24.</summary>
    public IgvmFileBuilder Vp(ulong gpa, uint mask, byte[] context, ushort vpIndex = 0) =>
        HeaderWithData(VpContext, new V(20).U64(0, gpa).U32(8, mask).U16(16, vpIndex), 12, context);

    public IgvmFileBuilder Required(ulong gpa, uint mask, uint bytes, uint flags = 0) =>
        Header(RequiredMemory, new V(24).U64(0, gpa).U32(8, mask).U32(12, bytes).U32(16, flags));

    /// <summary>Adds the headers and file data, with the checksum the fixed header needs.</summary>
    public byte[] Build() => Build(_ => { });

    /// <summary>Builds, lets <paramref name="tamper"/> change the bytes, then sets the checksum over what it left.</summary>
    public byte[] Build(Action<byte[]> tamper)
    {
        byte[] file = Layout(out _);
        tamper(file);
        SetChecksum(file);
        return file;
    }

    /// <summary>The file offset of each header's type field, in order, for the same layout <see cref="Build()"/> makes.</summary>
    public long[] HeaderOffsets()
    {
        Layout(out var offsets);
        return offsets;
    }

    /// <summary>Recomputes the fixed header's checksum: CRC-32 (zlib) of the fixed header with the field zeroed, then the variable headers.</summary>
    public static void SetChecksum(byte[] file)
    {
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(4));
        int fixedSize = version == 2 ? 32 : 24;
        uint varOffset = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(8));
        uint varSize = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(20), 0);
        uint crc = BitwiseCrc32(0, file.AsSpan(0, fixedSize));
        crc = BitwiseCrc32(crc, file.AsSpan((int)varOffset, (int)varSize));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(20), crc);
    }

    /// <summary>CRC-32, reflected 0xEDB88320, one bit at a time (unlike the product's table).</summary>
    public static uint BitwiseCrc32(uint crc, ReadOnlySpan<byte> bytes)
    {
        crc = ~crc;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
            }
        }

        return ~crc;
    }

    private byte[] Layout(out long[] offsets)
    {
        int fixedSize = Version == 2 ? 32 : 24;
        int varOffset = fixedSize; // both sizes are multiples of 8
        int varSize = headers.Sum(h => 8 + Pad8(h.Value.Length));
        int dataStart = varOffset + varSize;
        var blobOffsets = new int[data.Count];
        int at = dataStart;
        for (int i = 0; i < data.Count; i++)
        {
            blobOffsets[i] = at;
            at += data[i].Length;
        }

        byte[] file = new byte[at];
        var f = file.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(f, 0x4D564749); // "IGVM"
        BinaryPrimitives.WriteUInt32LittleEndian(f[4..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(f[8..], (uint)varOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(f[12..], (uint)varSize);
        BinaryPrimitives.WriteUInt32LittleEndian(f[16..], (uint)file.Length);
        if (Version == 2)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(f[24..], Architecture);
            BinaryPrimitives.WriteUInt32LittleEndian(f[28..], PageSizeV2);
        }

        offsets = new long[headers.Count];
        at = varOffset;
        for (int i = 0; i < headers.Count; i++)
        {
            var h = headers[i];
            offsets[i] = at;
            BinaryPrimitives.WriteUInt32LittleEndian(f[at..], h.Type);
            BinaryPrimitives.WriteUInt32LittleEndian(f[(at + 4)..], h.Length ?? (uint)h.Value.Length);
            h.Value.CopyTo(f[(at + 8)..]);
            if (h.Blob >= 0)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(f[(at + 8 + h.FileOffsetAt)..], (uint)blobOffsets[h.Blob]);
            }

            at += 8 + Pad8(h.Value.Length);
        }

        for (int i = 0; i < data.Count; i++)
        {
            data[i].CopyTo(f[blobOffsets[i]..]);
        }

        SetChecksum(file);
        return file;
    }

    private static int Pad8(int n) => (n + 7) & ~7;

    private sealed record Entry(uint Type, byte[] Value, uint? Length, int FileOffsetAt, int Blob);

    /// <summary>A little-endian structure value being filled in.</summary>
    internal sealed class V(int size)
    {
        private readonly byte[] bytes = new byte[size];

        public static implicit operator byte[](V v) => v.bytes;

        public V U8(int at, byte value)
        {
            bytes[at] = value;
            return this;
        }

        public V U16(int at, ushort value)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), value);
            return this;
        }

        public V U32(int at, uint value)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), value);
            return this;
        }

        public V U64(int at, ulong value)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), value);
            return this;
        }
    }
}
