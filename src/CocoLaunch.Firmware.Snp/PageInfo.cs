using System.Buffers.Binary;

namespace CocoLaunch.Firmware.Snp;

/// <summary>The 0x70-byte PAGE_INFO the firmware hashes for each measured page (snp-launch-digest.md §2).</summary>
public static class PageInfo
{
    public const int Size = 0x70;

    private static class Field
    {
        public const int DigestCur = 0x00;
        public const int Contents = DigestCur + 48;
        public const int Length = Contents + 48;
        public const int PageType = Length + 2;
        public const int ImiPage = PageType + 1;
        public const int Vmpl3Perms = ImiPage + 1;
        public const int Vmpl2Perms = Vmpl3Perms + 1;
        public const int Vmpl1Perms = Vmpl2Perms + 1;
        public const int Reserved = Vmpl1Perms + 1;
        public const int Gpa = Reserved + 1;
    }

    /// <summary>Builds PAGE_INFO; CONTENTS is SHA-384 of the page for NORMAL and VMSA pages and zero for every other type.</summary>
    public static void Build(ReadOnlySpan<byte> digestCur, SnpPageType type, ulong gpa, ReadOnlySpan<byte> page, Span<byte> info)
    {
        Span<byte> contents = stackalloc byte[48];
        if (HasContents(type))
        {
            Sha384.HashData(page, contents);
        }

        BuildWithContents(digestCur, type, gpa, contents, info);
    }

    /// <summary>Whether PAGE_INFO.CONTENTS carries the page's SHA-384 (NORMAL, VMSA) rather than zeros.</summary>
    public static bool HasContents(SnpPageType type) => type is SnpPageType.Normal or SnpPageType.Vmsa;

    /// <summary>Builds PAGE_INFO around a CONTENTS digest already computed (zeros for types without one).</summary>
    public static void BuildWithContents(ReadOnlySpan<byte> digestCur, SnpPageType type, ulong gpa, ReadOnlySpan<byte> contentsDigest, Span<byte> info)
    {
        info[..Size].Clear();
        digestCur.CopyTo(info[Field.DigestCur..]);
        if (HasContents(type))
        {
            contentsDigest[..48].CopyTo(info[Field.Contents..]);
        }

        BinaryPrimitives.WriteUInt16LittleEndian(info[Field.Length..], Size);
        info[Field.PageType] = (byte)type;
        BinaryPrimitives.WriteUInt64LittleEndian(info[Field.Gpa..], gpa);
    }
}
