using System.Buffers.Binary;
using System.Security.Cryptography;
using CocoLaunch.Abi;

namespace CocoLaunch.Formats.Igvm;

/// <summary>
/// Writes an IGVM file: the reverse of <see cref="IgvmFile.Parse"/>. Headers are kept per section, so whatever
/// order they are added in, the file visits platform, initialization and directive headers in the only order a
/// loader accepts; directives keep the order they were added in, which is the order a loader measures them in.
/// The file data follows the variable headers, and the fixed header (v1) carries the CRC-32 of both.
/// </summary>
public sealed class IgvmWriter
{
    private const int TypeLengthSize = 8;

    private readonly List<Entry> platforms = [], initialization = [], directives = [];
    private readonly List<ReadOnlyMemory<byte>> blobs = [];

    // Identical page contents (erased flash, 0xFF padding) are stored once: the format lets headers share file data.
    private readonly Dictionary<string, int> blobByContent = [];

    private uint nextMask = 1;

    /// <summary>Declares a platform and returns the compatibility mask bit the file's other headers name it by.</summary>
    public uint Platform(IgvmPlatformType platform, Gpa sharedGpaBoundary = default)
    {
        uint mask = nextMask;
        nextMask <<= 1;
        platforms.Add(new Entry(IgvmHeaderType.SupportedPlatform, new Value(16).U32(0, mask).U8(5, (byte)platform).U16(6, 1).U64(8, sharedGpaBoundary.Value)));
        return mask;
    }

    public void GuestPolicy(ulong policy, uint mask) =>
        initialization.Add(new Entry(IgvmHeaderType.GuestPolicy, new Value(16).U64(0, policy).U32(8, mask)));

    /// <summary>One page to import; no <paramref name="data"/> is a zero page (file offset 0). Data shorter than the page is zero-filled by the loader.</summary>
    public void PageData(Gpa gpa, uint mask, ReadOnlyMemory<byte> data, IgvmPageDataFlags flags = IgvmPageDataFlags.None, IgvmPageDataType type = IgvmPageDataType.Normal)
    {
        if (data.Length > IgvmHeaderDecoder.PageDataBytes)
        {
            throw new ArgumentException($"page data at {gpa} is {data.Length} bytes; a page directive names at most {IgvmHeaderDecoder.PageDataBytes}", nameof(data));
        }

        var value = new Value(24).U64(0, gpa.Value).U32(8, mask).U32(16, (uint)flags).U16(20, (ushort)type);
        directives.Add(new Entry(IgvmHeaderType.PageData, value, data.IsEmpty ? -1 : Blob(data), FileOffsetAt: 12));
    }

    /// <summary>A VP's initial state (for SNP, its VMSA page) for VP <paramref name="vpIndex"/>.</summary>
    public void VpContext(Gpa gpa, uint mask, ushort vpIndex, ReadOnlyMemory<byte> context) =>
        directives.Add(new Entry(IgvmHeaderType.VpContext, new Value(20).U64(0, gpa.Value).U32(8, mask).U16(16, vpIndex), Blob(context), FileOffsetAt: 12));

    /// <summary>IGVM_VHS_SNP_ID_BLOCK, laid out as <see cref="IgvmHeaderDecoder"/> reads it.</summary>
    public void SnpIdBlock(uint mask, IgvmSnpIdentity id)
    {
        var v = new Value(IgvmHeaderDecoder.SnpIdBlockSize).U32(0, mask).U8(4, id.AuthorKeyEnabled)
            .Field(IgvmHeaderDecoder.SnpLd, id.Ld, 48).Field(IgvmHeaderDecoder.SnpFamilyId, id.FamilyId, 16).Field(IgvmHeaderDecoder.SnpImageId, id.ImageId, 16)
            .U32(IgvmHeaderDecoder.SnpVersion, id.Version).U32(IgvmHeaderDecoder.SnpSvn, id.GuestSvn)
            .U32(IgvmHeaderDecoder.SnpIdKeyAlgorithm, id.IdKeyAlgorithm).U32(IgvmHeaderDecoder.SnpAuthorKeyAlgorithm, id.AuthorKeyAlgorithm)
            .Signature(IgvmHeaderDecoder.SnpIdSignature, id.IdKeySignature).Key(IgvmHeaderDecoder.SnpIdKey, id.IdPublicKey)
            .Signature(IgvmHeaderDecoder.SnpAuthorSignature, id.AuthorKeySignature).Key(IgvmHeaderDecoder.SnpAuthorKey, id.AuthorPublicKey);
        directives.Add(new Entry(IgvmHeaderType.SnpIdBlock, v));
    }

    /// <summary>The whole file: fixed header (v1), variable headers each padded to 8 bytes, then the file data.</summary>
    /// <exception cref="InvalidOperationException">No platform was declared, or the file would pass the 4 GiB a u32 offset reaches.</exception>
    public byte[] ToBytes()
    {
        if (platforms.Count == 0)
        {
            throw new InvalidOperationException("an IGVM file names at least one platform");
        }

        var headers = platforms.Concat(initialization).Concat(directives).ToList();
        long varOffset = IgvmFixedHeader.V1Size;
        long varSize = headers.Sum(h => TypeLengthSize + Pad8(h.Value.Length));
        long dataStart = varOffset + varSize;
        long total = dataStart + blobs.Sum(b => (long)b.Length);
        if (total > uint.MaxValue || varSize > IgvmFile.MaxVariableHeaderSize)
        {
            throw new InvalidOperationException($"the file would be {total} bytes with {varSize} bytes of headers: past what the format's u32 offsets (or a strict reader) accept");
        }

        var blobOffsets = new uint[blobs.Count];
        long at = dataStart;
        for (int i = 0; i < blobs.Count; i++)
        {
            blobOffsets[i] = (uint)at;
            at += blobs[i].Length;
        }

        var file = new byte[total];
        var f = file.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(f[IgvmFixedHeader.MagicAt..], IgvmFixedHeader.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(f[IgvmFixedHeader.VersionAt..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(f[IgvmFixedHeader.VariableHeaderOffsetAt..], (uint)varOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(f[IgvmFixedHeader.VariableHeaderSizeAt..], (uint)varSize);
        BinaryPrimitives.WriteUInt32LittleEndian(f[IgvmFixedHeader.TotalFileSizeAt..], (uint)total);

        at = varOffset;
        foreach (var h in headers)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(f[(int)at..], (uint)h.Type);
            BinaryPrimitives.WriteUInt32LittleEndian(f[(int)(at + 4)..], (uint)h.Value.Length);
            h.Value.Bytes.CopyTo(f[(int)(at + TypeLengthSize)..]);
            if (h.Blob >= 0)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(f[(int)(at + TypeLengthSize + h.FileOffsetAt)..], blobOffsets[h.Blob]);
            }

            at += TypeLengthSize + Pad8(h.Value.Length);
        }

        for (int i = 0; i < blobs.Count; i++)
        {
            blobs[i].Span.CopyTo(f[(int)blobOffsets[i]..]);
        }

        var fixedHeader = new IgvmFixedHeader(1, (uint)varOffset, (uint)varSize, (uint)total, 0, null, null);
        BinaryPrimitives.WriteUInt32LittleEndian(f[IgvmFixedHeader.ChecksumAt..], fixedHeader.ComputeChecksum(file));
        return file;
    }

    private int Blob(ReadOnlyMemory<byte> data)
    {
        string key = Convert.ToHexString(SHA256.HashData(data.Span)) + ":" + data.Length;
        if (!blobByContent.TryGetValue(key, out int index))
        {
            blobs.Add(data);
            index = blobByContent[key] = blobs.Count - 1;
        }

        return index;
    }

    private static int Pad8(int n) => (n + 7) & ~7;

    /// <param name="Blob">The index of the file data whose offset goes at <paramref name="FileOffsetAt"/>, or -1 for none.</param>
    private sealed record Entry(IgvmHeaderType Type, Value Value, int Blob = -1, int FileOffsetAt = 0);

    /// <summary>A header's little-endian value being filled in.</summary>
    private sealed class Value(int size)
    {
        public byte[] Bytes { get; } = new byte[size];

        public int Length => Bytes.Length;

        public Value U8(int at, byte v)
        {
            Bytes[at] = v;
            return this;
        }

        public Value U16(int at, ushort v)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(Bytes.AsSpan(at), v);
            return this;
        }

        public Value U32(int at, uint v)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan(at), v);
            return this;
        }

        public Value U64(int at, ulong v)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(at), v);
            return this;
        }

        /// <summary>A fixed-size byte field; a shorter value is zero-extended, a longer one is a caller's mistake.</summary>
        public Value Field(int at, ReadOnlyMemory<byte> v, int field)
        {
            if (v.Length > field)
            {
                throw new ArgumentException($"a {v.Length}-byte value for a {field}-byte field", nameof(v));
            }

            v.Span.CopyTo(Bytes.AsSpan(at));
            return this;
        }

        public Value Signature(int at, IgvmSnpSignature s) =>
            Field(at, s.R, IgvmHeaderDecoder.EcdsaComponent).Field(at + IgvmHeaderDecoder.EcdsaComponent, s.S, IgvmHeaderDecoder.EcdsaComponent);

        public Value Key(int at, IgvmSnpPublicKey k) =>
            U32(at, k.Curve).Field(at + 8, k.Qx, IgvmHeaderDecoder.EcdsaComponent).Field(at + 8 + IgvmHeaderDecoder.EcdsaComponent, k.Qy, IgvmHeaderDecoder.EcdsaComponent);
    }
}
