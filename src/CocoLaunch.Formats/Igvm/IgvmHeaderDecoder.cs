using System.Buffers.Binary;
using CocoLaunch.Abi;

namespace CocoLaunch.Formats.Igvm;

/// <summary>
/// Decodes one variable header's value into its record, with the checks that need nothing but the header itself:
/// reserved fields zero, addresses and sizes aligned, file data inside the file. Layouts are igvm_defs' IGVM_VHS_*
/// structures (microsoft/igvm igvm_defs/src/lib.rs), little-endian and packed as repr(C) lays them out.
/// </summary>
internal static class IgvmHeaderDecoder
{
    /// <summary>The stored length of each known type's value; a header of another length is malformed.</summary>
    public static int ValueSize(IgvmHeaderType type) => type switch
    {
        IgvmHeaderType.SupportedPlatform => 16,
        IgvmHeaderType.GuestPolicy => 16,
        IgvmHeaderType.RelocatableRegion => 48,
        IgvmHeaderType.PageTableRelocationRegion => 32,
        IgvmHeaderType.CorimDocument or IgvmHeaderType.CorimSignature => 16,
        IgvmHeaderType.CcaPolicy => 32,
        IgvmHeaderType.ParameterArea => 16,
        IgvmHeaderType.PageData => 24,
        IgvmHeaderType.ParameterInsert => 16,
        IgvmHeaderType.VpContext => 20, // the one structure whose size is not a multiple of 8: padding follows
        IgvmHeaderType.RequiredMemory => 24,
        IgvmHeaderType.ErrorRange => 16,
        IgvmHeaderType.SnpIdBlock => SnpIdBlockSize,
        IgvmHeaderType.VbsMeasurement => 864,
        _ => ParameterSize, // VP_COUNT, SRAT, MADT, MMIO_RANGES, MEMORY_MAP, COMMAND_LINE, SLIT, PPTT, DEVICE_TREE, ENVIRONMENT_INFO
    };

    private const int ParameterSize = 8;

    // IGVM_VHS_SNP_ID_BLOCK: mask, author_key_enabled, reserved[3], ld[48], family_id[16], image_id[16], version,
    // guest_svn, id_key_algorithm, author_key_algorithm, then two {signature, public key} pairs.
    // IgvmWriter lays the structure out from the same offsets.
    internal const int SnpLd = 8, SnpFamilyId = 56, SnpImageId = 72, SnpVersion = 88, SnpSvn = 92, SnpIdKeyAlgorithm = 96, SnpAuthorKeyAlgorithm = 100;
    internal const int SnpIdSignature = 104, SnpIdKey = 248, SnpAuthorSignature = 400, SnpAuthorKey = 544, SnpIdBlockSize = 696;
    internal const int EcdsaComponent = 72; // R, S, Qx, Qy: P-384 values zero-extended to 72 bytes

    /// <summary>Bytes of file data a page-data directive names: microsoft/igvm reads one 4 KiB page, 2 MiB flag or not.</summary>
    public const int PageDataBytes = 4096;

    /// <summary>Decodes the header whose type and length are at <paramref name="at"/>; the length is already checked.</summary>
    public static IgvmHeader Decode(ReadOnlySpan<byte> file, long at, int index, uint rawType, long fileDataStart)
    {
        var type = (IgvmHeaderType)(rawType & ~IgvmNames.MayIgnoreBit);
        var v = new Value(file, at + 8, $"header #{index} ({IgvmNames.Of(type)})", fileDataStart);
        switch (type)
        {
            case IgvmHeaderType.SupportedPlatform:
                return new IgvmSupportedPlatform(index, at, rawType, v.U32(0), v.U8(4), (IgvmPlatformType)v.U8(5), v.U16(6), new Gpa(v.U64(8)));

            case IgvmHeaderType.GuestPolicy:
                v.Zero(12, 4, "reserved");
                return new IgvmGuestPolicy(index, at, rawType, v.U64(0), v.U32(8));

            case IgvmHeaderType.RelocatableRegion:
                return RelocatableRegion(v, index, at, rawType);

            case IgvmHeaderType.PageTableRelocationRegion:
                v.Zero(7, 1, "reserved");
                ulong size = v.U64(16), used = v.U64(24);
                v.Aligned(8, v.U64(8), PageSize.Size4K, "gpa");
                v.Aligned(16, v.U64(16), PageSize.Size4K, "size");
                v.Aligned(24, v.U64(24), PageSize.Size4K, "used_size");
                v.Check(used <= size, 24, $"used_size {Hex.Of(used)} is larger than the region's size {Hex.Of(size)}");
                return new IgvmPageTableRelocation(index, at, rawType, v.U32(0), v.U16(4), v.U8(6), new Gpa(v.U64(8)), size, used);

            case IgvmHeaderType.CorimDocument or IgvmHeaderType.CorimSignature:
                v.Zero(12, 4, "reserved");
                v.FileData(4, v.U32(4), v.U32(8), "the CoRIM data");
                return new IgvmCorimData(index, at, rawType, v.U32(0), v.U32(4), v.U32(8));

            case IgvmHeaderType.CcaPolicy:
                v.Zero(4, 4, "reserved");
                v.Zero(26, 6, "reserved2");
                ulong zeroes = v.U64(8), ones = v.U64(16);
                v.Check((zeroes & ones) == 0, 16, $"attribute bits {Hex.Of(zeroes & ones)} are required both clear and set");
                return new IgvmCcaPolicy(index, at, rawType, v.U32(0), zeroes, ones, v.U8(24), v.U8(25));

            case IgvmHeaderType.ParameterArea:
                ulong bytes = v.U64(0);
                v.Check(bytes != 0 && bytes % PageSize.Size4K == 0, 0, $"a parameter area of {Hex.Of(bytes)} bytes is not a whole number of 4 KiB pages");
                v.FileData(12, v.U32(12), bytes, "the parameter area's initial contents");
                return new IgvmParameterArea(index, at, rawType, bytes, v.U32(8), v.U32(12));

            case IgvmHeaderType.PageData:
                return PageData(v, index, at, rawType);

            case IgvmHeaderType.ParameterInsert:
                v.Aligned(0, v.U64(0), PageSize.Size4K, "gpa");
                return new IgvmParameterInsert(index, at, rawType, new Gpa(v.U64(0)), v.U32(8), v.U32(12));

            case IgvmHeaderType.VpContext:
                v.Zero(18, 2, "reserved");
                return new IgvmVpContext(index, at, rawType, new Gpa(v.U64(0)), v.U32(8), v.U32(12), v.U16(16));

            case IgvmHeaderType.RequiredMemory:
                v.Zero(20, 4, "reserved");
                v.Check((v.U32(16) & ~IgvmRequiredMemory.Vtl2Protectable) == 0, 16, $"reserved flag bits {Hex.Of((ulong)(v.U32(16) & ~IgvmRequiredMemory.Vtl2Protectable))} are set");
                v.Aligned(0, v.U64(0), PageSize.Size4K, "gpa");
                v.Aligned(12, v.U32(12), PageSize.Size4K, "number_of_bytes");
                return new IgvmRequiredMemory(index, at, rawType, new Gpa(v.U64(0)), v.U32(8), v.U32(12), v.U32(16));

            case IgvmHeaderType.ErrorRange:
                v.Aligned(0, v.U64(0), PageSize.Size4K, "gpa");
                v.Aligned(12, v.U32(12), PageSize.Size4K, "size_bytes");
                return new IgvmErrorRange(index, at, rawType, new Gpa(v.U64(0)), v.U32(8), v.U32(12));

            case IgvmHeaderType.SnpIdBlock:
                return SnpIdBlock(v, index, at, rawType);

            case IgvmHeaderType.VbsMeasurement:
                return new IgvmVbsMeasurement(index, at, rawType, v.U32(0), v.U32(4), v.U32(8), v.U32(12), v.U32(16), v.U32(20), v.U32(24), v.U32(28),
                    v.Bytes(32, 64), v.Bytes(96, 256), v.Bytes(352, 512));

            default:
                return new IgvmParameterUsage(index, at, rawType, v.U32(0), v.U32(4));
        }
    }

    private static IgvmRelocatableRegion RelocatableRegion(Value v, int index, long at, uint rawType)
    {
        ulong alignment = v.U64(8);
        v.Check(alignment != 0 && alignment % PageSize.Size4K == 0, 8, $"relocation_alignment {Hex.Of(alignment)} is not a non-zero multiple of 4 KiB");
        v.Aligned(24, v.U64(24), PageSize.Size4K, "relocation_region_size");
        v.Aligned(16, v.U64(16), alignment, "relocation_region_gpa");
        v.Aligned(32, v.U64(32), alignment, "minimum_relocation_gpa");
        v.Aligned(40, v.U64(40), alignment, "maximum_relocation_gpa");
        byte flags = v.U8(7);
        const byte Known = IgvmRelocatableRegion.IsVtl2 | IgvmRelocatableRegion.ApplyRip | IgvmRelocatableRegion.ApplyGdtr;
        v.Check((flags & ~Known) == 0, 7, $"reserved flag bits {Hex.Of((ulong)(flags & ~Known))} are set");
        return new IgvmRelocatableRegion(index, at, rawType, v.U32(0), v.U16(4), v.U8(6), flags, alignment, new Gpa(v.U64(16)), v.U64(24), new Gpa(v.U64(32)), new Gpa(v.U64(40)));
    }

    private static IgvmPageData PageData(Value v, int index, long at, uint rawType)
    {
        var flags = (IgvmPageDataFlags)v.U32(16);
        var dataType = (IgvmPageDataType)v.U16(20);
        v.Zero(22, 2, "reserved");
        v.Check((flags & IgvmPageDataFlags.Reserved) == 0, 16, $"reserved flag bits {Hex.Of((ulong)(flags & IgvmPageDataFlags.Reserved))} are set");
        v.Check(Enum.IsDefined(dataType), 20, $"data_type {Hex.Of((ulong)dataType)} is not one of normal (0), secrets (1), cpuid (2), cpuid-xf (3)");
        v.Aligned(0, v.U64(0), flags.HasFlag(IgvmPageDataFlags.Is2MbPage) ? PageSize.Size2M : PageSize.Size4K, flags.HasFlag(IgvmPageDataFlags.Is2MbPage) ? "gpa of a 2 MiB page" : "gpa");
        v.FileData(12, v.U32(12), PageDataBytes, "the page's data");
        return new IgvmPageData(index, at, rawType, new Gpa(v.U64(0)), v.U32(8), v.U32(12), flags, dataType);
    }

    private static IgvmSnpIdBlock SnpIdBlock(Value v, int index, long at, uint rawType)
    {
        v.Zero(5, 3, "reserved");
        v.Zero(SnpIdKey + 4, 4, "id_public_key.reserved");
        v.Zero(SnpAuthorKey + 4, 4, "author_public_key.reserved");
        return new IgvmSnpIdBlock(index, at, rawType, v.U32(0), new IgvmSnpIdentity(v.U8(4), v.Bytes(SnpLd, 48), v.Bytes(SnpFamilyId, 16), v.Bytes(SnpImageId, 16),
            v.U32(SnpVersion), v.U32(SnpSvn), v.U32(SnpIdKeyAlgorithm), v.U32(SnpAuthorKeyAlgorithm),
            v.Signature(SnpIdSignature), v.Key(SnpIdKey), v.Signature(SnpAuthorSignature), v.Key(SnpAuthorKey)));
    }

    /// <summary>A header's value in the file, with reads and checks that report the field's file offset.</summary>
    private readonly ref struct Value(ReadOnlySpan<byte> file, long at, string label, long fileDataStart)
    {
        private readonly ReadOnlySpan<byte> file = file;

        public byte U8(int o) => file[(int)(at + o)];

        public ushort U16(int o) => BinaryPrimitives.ReadUInt16LittleEndian(file[(int)(at + o)..]);

        public uint U32(int o) => BinaryPrimitives.ReadUInt32LittleEndian(file[(int)(at + o)..]);

        public ulong U64(int o) => BinaryPrimitives.ReadUInt64LittleEndian(file[(int)(at + o)..]);

        public ReadOnlyMemory<byte> Bytes(int o, int n) => file.Slice((int)(at + o), n).ToArray();

        public IgvmSnpSignature Signature(int o) => new(Bytes(o, EcdsaComponent), Bytes(o + EcdsaComponent, EcdsaComponent));

        public IgvmSnpPublicKey Key(int o) => new(U32(o), Bytes(o + 8, EcdsaComponent), Bytes(o + 8 + EcdsaComponent, EcdsaComponent));

        public void Check(bool ok, int o, string problem)
        {
            if (!ok)
            {
                throw new IgvmFormatException(label, at + o, problem);
            }
        }

        public void Zero(int o, int n, string field)
        {
            int nonZero = file.Slice((int)(at + o), n).IndexOfAnyExcept((byte)0);
            Check(nonZero < 0, o + Math.Max(nonZero, 0), $"{field} is not zero");
        }

        public void Aligned(int o, ulong value, ulong alignment, string field)
        {
            Check(value % alignment == 0, o, $"{field} {Hex.Of(value)} is not {Describe(alignment)} aligned");
        }

        /// <summary>
        /// The file data a header names (offset 0 names none: zeros): it starts after the variable headers, because
        /// microsoft/igvm takes file offsets relative to the file's start and slices them from the file data, and it
        /// ends inside the file.
        /// </summary>
        public void FileData(int o, uint fileOffset, ulong bytes, string what)
        {
            if (fileOffset == 0)
            {
                return;
            }

            ulong end = (ulong)file.Length;
            bool inside = fileOffset >= fileDataStart && fileOffset <= end && bytes <= end - fileOffset;
            Check(inside, o, $"{what} ({Hex.Of(bytes)} bytes at file offset {Hex.Of((ulong)fileOffset)}) is not inside the file data {Hex.Range((ulong)fileDataStart, end)}");
        }

        private static string Describe(ulong alignment) => alignment switch
        {
            PageSize.Size4K => "4 KiB",
            PageSize.Size2M => "2 MiB",
            _ => Hex.Of(alignment) + "-byte",
        };
    }
}
