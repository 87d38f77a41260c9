using System.Buffers.Binary;
using System.Numerics;

namespace CocoLaunch.Formats.Igvm;

/// <summary>
/// The rules that span headers, checked as each header is read: platform declarations, compatibility masks,
/// parameter area indices, and the VP context's data for its platform. microsoft/igvm igvm/src/lib.rs
/// (validate_platform_headers, validate_directive_headers, the VP context parse) is the reference for each.
/// </summary>
internal sealed class IgvmRules(long fileDataStart, long fileLength)
{
    /// <summary>A VBS VP context: a u32 register count, then 32-byte registers (VbsVpContextHeader, VbsVpContextRegister).</summary>
    private const int VbsRegisterSize = 32;

    private const int VpContextPage = 4096;

    private readonly Dictionary<uint, IgvmSupportedPlatform> platformsByMask = [];
    private readonly Dictionary<IgvmPlatformType, IgvmSupportedPlatform> platformsByType = [];
    private readonly Dictionary<uint, (IgvmParameterArea Area, IgvmParameterInsert? InsertedBy)> areas = [];
    private uint declared;

    public void Check(IgvmHeader header, ReadOnlySpan<byte> file)
    {
        switch (header)
        {
            case IgvmSupportedPlatform p:
                Platform(p);
                return;
            case IgvmIgnoredHeader:
                return;
        }

        if (header.CompatibilityMask is { } mask)
        {
            Mask(header, mask);
        }

        switch (header)
        {
            case IgvmParameterArea area:
                if (areas.TryGetValue(area.AreaIndex, out var first))
                {
                    throw Fail(header, 8, $"parameter area index {area.AreaIndex} is declared again (first by header #{first.Area.Index})");
                }

                areas[area.AreaIndex] = (area, null);
                break;
            case IgvmParameterUsage use:
                var used = Area(header, use.AreaIndex, 0);
                if (use.ByteOffset >= used.Bytes)
                {
                    throw Fail(header, 4, $"byte offset {Hex.Of((ulong)use.ByteOffset)} is outside parameter area {use.AreaIndex} ({Hex.Of(used.Bytes)} bytes)");
                }

                break;
            case IgvmParameterInsert insert:
                var inserted = Area(header, insert.AreaIndex, 12);
                areas[insert.AreaIndex] = (inserted, insert);
                break;
            case IgvmVpContext vp:
                VpContext(vp, file);
                break;
        }
    }

    /// <summary>Checks made once every header is read.</summary>
    public void CheckEnd(long variableHeaderOffset)
    {
        if (platformsByMask.Count == 0)
        {
            throw new IgvmFormatException("variable header section", variableHeaderOffset, "no IGVM_VHT_SUPPORTED_PLATFORM header: the file names no platform");
        }
    }

    private void Platform(IgvmSupportedPlatform p)
    {
        if (BitOperations.PopCount(p.Mask) != 1)
        {
            throw Fail(p, 0, $"compatibility mask {Hex.Of((ulong)p.Mask)} does not have exactly one bit set");
        }

        if (platformsByMask.TryGetValue(p.Mask, out var sameMask))
        {
            throw Fail(p, 0, $"compatibility mask {Hex.Of((ulong)p.Mask)} is already header #{sameMask.Index}'s");
        }

        if (!Enum.IsDefined(p.Platform))
        {
            throw Fail(p, 5, $"platform type {Hex.Of((ulong)p.Platform)} is not one igvm_defs defines (0-6)");
        }

        if (platformsByType.TryGetValue(p.Platform, out var sameType))
        {
            throw Fail(p, 5, $"platform {p.PlatformName} is already declared by header #{sameType.Index}");
        }

        if (p.HighestVtl is not (0 or 2))
        {
            throw Fail(p, 4, $"highest VTL {p.HighestVtl} is not 0 or 2");
        }

        if (p.PlatformVersion != 1)
        {
            throw Fail(p, 6, $"platform version {p.PlatformVersion} is not 1, the only version of {p.PlatformName}");
        }

        if (p.Platform is IgvmPlatformType.Native or IgvmPlatformType.VsmIsolation && p.SharedGpaBoundary.Value != 0)
        {
            throw Fail(p, 8, $"shared GPA boundary {p.SharedGpaBoundary} must be 0 for {p.PlatformName}, which shares no memory");
        }

        platformsByMask[p.Mask] = p;
        platformsByType[p.Platform] = p;
        declared |= p.Mask;
    }

    /// <summary>A mask must name at least one platform, and only declared ones.</summary>
    private void Mask(IgvmHeader header, uint mask)
    {
        int at = MaskOffset(header);
        if (mask == 0)
        {
            throw Fail(header, at, "compatibility mask 0 names no platform");
        }

        uint undeclared = mask & ~declared;
        if (undeclared != 0)
        {
            throw Fail(header, at, $"compatibility mask {Hex.Of((ulong)mask)} has bits {Hex.Of((ulong)undeclared)} that name no declared platform (declared: {Hex.Of((ulong)declared)})");
        }
    }

    /// <summary>The value offset of a header's compatibility mask: after the GPA for the GPA-first structures, else first.</summary>
    private static int MaskOffset(IgvmHeader header) => header switch
    {
        IgvmGuestPolicy => 8,
        IgvmPageData or IgvmParameterInsert or IgvmVpContext or IgvmRequiredMemory or IgvmErrorRange => 8,
        _ => 0,
    };

    private IgvmParameterArea Area(IgvmHeader header, uint index, int at)
    {
        if (!areas.TryGetValue(index, out var area))
        {
            throw Fail(header, at, $"parameter area index {index} is used before a PARAMETER_AREA declares it");
        }

        if (area.InsertedBy is { } insert)
        {
            throw Fail(header, at, $"parameter area index {index} was already inserted by header #{insert.Index}");
        }

        return area.Area;
    }

    private void VpContext(IgvmVpContext vp, ReadOnlySpan<byte> file)
    {
        if (BitOperations.PopCount(vp.Mask) != 1)
        {
            throw Fail(vp, 8, $"compatibility mask {Hex.Of((ulong)vp.Mask)} names more than one platform: a VP context is one platform's");
        }

        var platform = platformsByMask[vp.Mask];
        if (platform.Platform == IgvmPlatformType.Tdx)
        {
            throw Fail(vp, 8, "a VP context for TDX, whose initial VP state is architectural: the header is invalid there");
        }

        bool vmsa = platform.Platform is IgvmPlatformType.SevSnp or IgvmPlatformType.SevEs;
        if (vmsa ? !vp.Gpa.IsPageAligned : platform.Platform is not IgvmPlatformType.Cca && vp.Gpa.Value != 0)
        {
            throw Fail(vp, 0, vmsa ? $"VMSA gpa {vp.Gpa} is not 4 KiB aligned" : $"gpa {vp.Gpa} must be 0 for {platform.PlatformName}, which deposits no VP context in memory");
        }

        long bytes = VpContextPage;
        if (platform.Platform == IgvmPlatformType.VsmIsolation && vp.FileOffset >= fileDataStart && vp.FileOffset <= fileLength - 4)
        {
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(file[(int)vp.FileOffset..]);
            if (count == 0)
            {
                throw Fail(vp, 12, $"the VBS register list at file offset {Hex.Of((ulong)vp.FileOffset)} has no registers");
            }

            bytes = 4 + ((long)count * VbsRegisterSize);
        }

        if (vp.FileOffset < fileDataStart || vp.FileOffset > fileLength || bytes > fileLength - vp.FileOffset)
        {
            throw Fail(vp, 12, $"the {platform.PlatformName} VP context ({Hex.Of((ulong)bytes)} bytes at file offset {Hex.Of((ulong)vp.FileOffset)}) is not inside the file data {Hex.Range((ulong)fileDataStart, (ulong)fileLength)}");
        }
    }

    private static IgvmFormatException Fail(IgvmHeader header, int valueOffset, string problem) =>
        new(header.Label, header.Offset + 8 + valueOffset, problem);
}
