using System.Buffers.Binary;
using System.Security.Cryptography;

namespace CocoLaunch.Formats.Linux;

/// <summary>
/// The Authenticode digest of a PE/COFF image, as UEFI firmware measures an EFI application before it starts it
/// (edk2's DxeTpm2MeasureBootLib, TdTcg2Dxe MeasurePeImageAndExtend; Microsoft's "Windows Authenticode Portable
/// Executable Signature Format"): the headers without the checksum and the certificate-table entry, then each
/// section's raw data in file order, then whatever follows the last section except the certificate table. An EFI-stub
/// kernel is such an image, its setup header included.
/// </summary>
public static class PeImageHash
{
    private const int PeOffsetAt = 0x3C;
    private const int CoffHeaderSize = 20, NumberOfSectionsAt = 2, SizeOfOptionalHeaderAt = 16;
    private const int OptionalMagicPe32 = 0x10B, OptionalMagicPe32Plus = 0x20B;
    private const int CheckSumAt = 64, SizeOfHeadersAt = 60;
    private const int SectionHeaderSize = 40, SizeOfRawDataAt = 16, PointerToRawDataAt = 20;
    private const int SecurityDirectoryIndex = 4;

    public static byte[] Sha384(ReadOnlySpan<byte> image)
    {
        int pe = (int)Field(image, PeOffsetAt, 4, "e_lfanew");
        if (pe < 0 || Field(image, pe, 4, "PE signature") != 0x0000_4550)
        {
            throw new KernelFormatException(pe, "PE signature", "not \"PE\\0\\0\": the kernel has no EFI stub, so UEFI firmware cannot start (or measure) it");
        }

        int coff = pe + 4;
        int sections = (int)Field(image, coff + NumberOfSectionsAt, 2, "NumberOfSections");
        int optionalSize = (int)Field(image, coff + SizeOfOptionalHeaderAt, 2, "SizeOfOptionalHeader");
        int optional = coff + CoffHeaderSize;
        uint magic = Field(image, optional, 2, "optional header magic");
        (int rvaCountAt, int directoriesAt) = magic switch
        {
            OptionalMagicPe32 => (92, 96),
            OptionalMagicPe32Plus => (108, 112),
            _ => throw new KernelFormatException(optional, "optional header magic", $"0x{magic:x} is neither PE32 (0x10b) nor PE32+ (0x20b)"),
        };

        int checksum = optional + CheckSumAt;
        int sizeOfHeaders = (int)Field(image, optional + SizeOfHeadersAt, 4, "SizeOfHeaders");
        uint rvaCount = Field(image, optional + rvaCountAt, 4, "NumberOfRvaAndSizes");
        int security = optional + directoriesAt + (SecurityDirectoryIndex * 8);
        bool hasSecurity = rvaCount > SecurityDirectoryIndex;
        uint certificateSize = hasSecurity ? Field(image, security + 4, 4, "certificate table size") : 0;
        if (sizeOfHeaders > image.Length || sizeOfHeaders < (hasSecurity ? security + 8 : checksum + 4))
        {
            throw new KernelFormatException(optional + SizeOfHeadersAt, "SizeOfHeaders", $"0x{sizeOfHeaders:x} does not cover the optional header or exceeds the file (0x{image.Length:x} bytes)");
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA384);
        hash.AppendData(image[..checksum]);
        if (hasSecurity)
        {
            hash.AppendData(image[(checksum + 4)..security]);
            hash.AppendData(image[(security + 8)..sizeOfHeaders]);
        }
        else
        {
            hash.AppendData(image[(checksum + 4)..sizeOfHeaders]);
        }

        long hashed = sizeOfHeaders;
        int table = optional + optionalSize;
        foreach (var (offset, size) in SectionsInFileOrder(image, table, sections))
        {
            hash.AppendData(image.Slice(offset, size));
            hashed += size;
        }

        long rest = image.Length - hashed - certificateSize;
        if (rest > 0)
        {
            hash.AppendData(image.Slice((int)hashed, (int)rest));
        }

        return hash.GetHashAndReset();
    }

    private static List<(int Offset, int Size)> SectionsInFileOrder(ReadOnlySpan<byte> image, int table, int count)
    {
        var sections = new List<(int, int)>(count);
        for (int i = 0; i < count; i++)
        {
            int header = table + (i * SectionHeaderSize);
            uint size = Field(image, header + SizeOfRawDataAt, 4, $"section {i} SizeOfRawData");
            uint offset = Field(image, header + PointerToRawDataAt, 4, $"section {i} PointerToRawData");
            if (size == 0)
            {
                continue;
            }

            if ((ulong)offset + size > (ulong)image.Length)
            {
                throw new KernelFormatException(header, $"section {i}", $"raw data 0x{offset:x}+0x{size:x} runs past the end of the file (0x{image.Length:x} bytes)");
            }

            sections.Add(((int)offset, (int)size));
        }

        sections.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return sections;
    }

    private static uint Field(ReadOnlySpan<byte> image, int at, int size, string name)
    {
        if (at < 0 || at + size > image.Length)
        {
            throw new KernelFormatException(at, name, $"lies past the end of the file (0x{image.Length:x} bytes)");
        }

        return size == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(image[at..]) : BinaryPrimitives.ReadUInt32LittleEndian(image[at..]);
    }
}
