using CocoLaunch.Abi;
using CocoLaunch.Abi.Measurement;

namespace CocoLaunch.Firmware.Snp;

/// <summary>SNP firmware status codes the launch can return (SEV firmware ABI, SEV_RET_*).</summary>
public enum SnpStatus : uint
{
    Success = 0x00,
    InvalidPlatformState = 0x01,
    InvalidGuestState = 0x02,
    InvalidConfig = 0x03,
    PolicyFailure = 0x07,
    BadSignature = 0x0A,
    BadMeasurement = 0x0B,
    InvalidParam = 0x16,

    /// <summary>SEV_RET_AUTH_ERR: a guest message failed authentication (wrong key, tag, or sequence number).</summary>
    AuthError = 0x1B,
}

/// <summary>A failed SNP firmware command: its status and which command.</summary>
public sealed class SnpFirmwareException(SnpStatus status, string command, string detail) : Exception($"{command}: {status} ({detail})")
{
    public SnpStatus Status { get; } = status;
}

/// <summary>
/// One guest's launch context in the SNP firmware: LAUNCH_START, LAUNCH_UPDATE pages chained into the launch
/// digest (GCTX.LD = SHA-384(PAGE_INFO) per page), and LAUNCH_FINISH. Pure; every update goes to <see cref="Log"/>.
/// </summary>
public sealed partial class SnpGuestContext
{
    /// <summary>Policy bit 17 is reserved and must be 1.</summary>
    public const ulong PolicyReservedMustBeOne = 1UL << 17;

    private readonly byte[] digest = new byte[48];
    private readonly byte[] info = new byte[PageInfo.Size];

    public SnpGuestContext(MeasurementLog? log = null, SnpCpuidPolicy? cpuidPolicy = null)
    {
        Log = log ?? new MeasurementLog();
        CpuidPolicy = cpuidPolicy ?? SnpCpuidPolicy.Unrestricted;
    }

    /// <summary>The guest's address-space id; every RMP entry the launch assigns carries it.</summary>
    public uint Asid { get; init; } = 1;

    /// <summary>The RMP entries of this guest's pages.</summary>
    public RmpTable Rmp { get; } = new();

    /// <summary>The platform CPUID values CPUID pages are checked against.</summary>
    public SnpCpuidPolicy CpuidPolicy { get; }

    public MeasurementLog Log { get; }

    public ulong? Policy { get; private set; }

    public bool IsFinished { get; private set; }

    public int Updates { get; private set; }

    /// <summary>GCTX.LD: the launch digest so far (final after LAUNCH_FINISH).</summary>
    public byte[] LaunchDigest => digest.ToArray();

    /// <summary>SNP_LAUNCH_START: records the policy; bit 17 must be set.</summary>
    /// <param name="policy">The guest policy.</param>
    /// <param name="hostSmtActive">
    /// Whether SMT is enabled on the host: the firmware then refuses a policy with SMT (bit 16) clear with
    /// POLICY_FAILURE, since KVM no longer checks that bit itself.
    /// </param>
    public void LaunchStart(ulong policy, bool hostSmtActive = false)
    {
        if (Policy is not null)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidGuestState, "SNP_LAUNCH_START", "the guest is already launched");
        }

        if ((policy & PolicyReservedMustBeOne) == 0)
        {
            throw new SnpFirmwareException(SnpStatus.PolicyFailure, "SNP_LAUNCH_START", $"policy 0x{policy:x} clears reserved bit 17");
        }

        if (hostSmtActive && (policy & (1UL << 16)) == 0)
        {
            throw new SnpFirmwareException(SnpStatus.PolicyFailure, "SNP_LAUNCH_START", $"policy 0x{policy:x} clears SMT (bit 16) while SMT is enabled on the host");
        }

        Policy = policy;
    }

    /// <summary>SNP_LAUNCH_UPDATE of one 4 KiB page: the RMP entry becomes guest-assigned, and LD = SHA-384(PAGE_INFO).</summary>
    /// <remarks>A CPUID page is checked as <see cref="LaunchUpdateCpuid"/> does, on a copy: use that to see the corrections.</remarks>
    public void LaunchUpdate(SnpPageType type, Gpa gpa, ReadOnlySpan<byte> page)
    {
        if (type == SnpPageType.Cpuid)
        {
            LaunchUpdateCpuid(gpa, page.ToArray());
            return;
        }

        Measure(type, gpa, page);
    }

    /// <summary>
    /// SNP_LAUNCH_UPDATE of a CPUID page. The page is checked against <see cref="CpuidPolicy"/> first; when it
    /// fails, the firmware writes the values it would accept into <paramref name="page"/>, leaves the RMP entry
    /// unassigned and returns INVALID_PARAM, so a corrected page can be submitted again.
    /// </summary>
    public void LaunchUpdateCpuid(Gpa gpa, Span<byte> page)
    {
        CheckUpdate(SnpPageType.Cpuid, gpa);
        var corrected = CpuidPage.Validate(page, CpuidPolicy);
        if (corrected is null)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidParam, "SNP_LAUNCH_UPDATE", $"CPUID page at {gpa} declares {CpuidPage.Count(page)} entries (at most {CpuidPage.MaxEntries})");
        }

        if (corrected.Count > 0)
        {
            var leaves = new List<string>();
            foreach (int i in corrected)
            {
                var e = CpuidPage.Entry(page, i);
                leaves.Add($"0x{e.EaxIn:x}.{e.EcxIn}");
            }

            throw new SnpFirmwareException(SnpStatus.InvalidParam, "SNP_LAUNCH_UPDATE", $"CPUID page at {gpa}: function(s) {string.Join(", ", leaves)} claim bits the platform lacks; the page now holds the corrected values");
        }

        Measure(SnpPageType.Cpuid, gpa, page);
    }

    private void CheckUpdate(SnpPageType type, Gpa gpa)
    {
        if (Policy is null || IsFinished)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidGuestState, "SNP_LAUNCH_UPDATE", IsFinished ? "the launch is finished" : "no LAUNCH_START");
        }

        if (!gpa.IsPageAligned)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidParam, "SNP_LAUNCH_UPDATE", $"GPA {gpa} is not page aligned");
        }

        if (type != SnpPageType.Vmsa && Rmp[gpa].Assigned)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidParam, "SNP_LAUNCH_UPDATE", $"the RMP entry of {gpa} is already assigned");
        }
    }

    private void Measure(SnpPageType type, Gpa gpa, ReadOnlySpan<byte> page)
    {
        Span<byte> contents = stackalloc byte[48];
        if (PageInfo.HasContents(type))
        {
            CheckUpdate(type, gpa); // refuse before the 4 KiB hash, not after
            Sha384.HashData(page, contents);
        }

        Measure(type, gpa, page.Length, contents);
    }

    /// <summary>One page's update, with its CONTENTS digest computed already (see <see cref="LaunchUpdateRange"/>).</summary>
    private void Measure(SnpPageType type, Gpa gpa, int pageLength, ReadOnlySpan<byte> contentsDigest)
    {
        CheckUpdate(type, gpa);
        if (type != SnpPageType.Vmsa)
        {
            // The VMSA lives in a firmware-chosen page of its own, outside the guest's GPA space.
            Rmp.Set(gpa, new RmpEntry(Assigned: true, Validated: true, Immutable: true, Asid, gpa));
        }

        PageInfo.BuildWithContents(digest, type, gpa.Value, contentsDigest, info);
        Sha384.HashData(info, digest);
        Updates++;
        // NORMAL and VMSA pages hash their 4 KiB contents into PAGE_INFO.CONTENTS first.
        Log.Append(OperationName(type), gpa, PageInfo.HasContents(type) ? pageLength + PageInfo.Size : PageInfo.Size, contentsDigest);
    }

    /// <summary>
    /// Continues from a launch digest computed elsewhere over the first pages (sev-snp-measure's
    /// --snp-ovmf-hash), as if those pages had been updated here. Only right after LAUNCH_START.
    /// </summary>
    public void ResumeDigest(ReadOnlySpan<byte> launchDigest, Gpa coveredFrom)
    {
        if (Policy is null || IsFinished || Updates != 0)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidGuestState, "resume", "a digest can only be resumed right after LAUNCH_START");
        }

        if (launchDigest.Length != digest.Length)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidParam, "resume", $"a launch digest is {digest.Length} bytes, not {launchDigest.Length}");
        }

        launchDigest.CopyTo(digest);
        Log.Append("RESUME.PRECOMPUTED", coveredFrom, 0);
    }

    /// <summary>SNP_LAUNCH_FINISH: the digest is final.</summary>
    public byte[] LaunchFinish() => LaunchFinish(null, null, authorKeyEnabled: false);

    /// <summary>
    /// SNP_LAUNCH_FINISH with ID_BLOCK_EN when <paramref name="idBlock"/> is given: the block must name this
    /// digest (BAD_MEASUREMENT) and policy (POLICY_FAILURE), and its signatures must verify (BAD_SIGNATURE).
    /// A failed check leaves the launch open.
    /// </summary>
    public byte[] LaunchFinish(byte[]? idBlock, byte[]? idAuth, bool authorKeyEnabled)
    {
        if (Policy is null || IsFinished)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidGuestState, "SNP_LAUNCH_FINISH", IsFinished ? "already finished" : "no LAUNCH_START");
        }

        if (idBlock is not null)
        {
            Bind(idBlock, idAuth ?? throw new SnpFirmwareException(SnpStatus.InvalidParam, "SNP_LAUNCH_FINISH", "an ID block needs its ID authentication information"), authorKeyEnabled);
        }

        IsFinished = true;
        return LaunchDigest;
    }

    /// <summary>The ID block accepted at LAUNCH_FINISH, which every report then carries; null without one.</summary>
    public IdBlock? IdBlock { get; private set; }

    /// <summary>LAUNCH_FINISH's AUTHOR_KEY_EN: the report then carries the author key's digest.</summary>
    public bool AuthorKeyEnabled { get; private set; }

    /// <summary>SHA-384 of the AMD-format ID key (zero without an ID block).</summary>
    public byte[] IdKeyDigest { get; private set; } = new byte[48];

    /// <summary>SHA-384 of the AMD-format author key (zero unless AUTHOR_KEY_EN).</summary>
    public byte[] AuthorKeyDigest { get; private set; } = new byte[48];

    private void Bind(byte[] idBlockBytes, byte[] idAuth, bool authorKeyEnabled)
    {
        if (idBlockBytes.Length != Snp.IdBlock.Size || idAuth.Length != Snp.IdAuth.Size)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidParam, "SNP_LAUNCH_FINISH", $"ID block {idBlockBytes.Length} bytes (needs {Snp.IdBlock.Size}) or ID auth {idAuth.Length} bytes (needs {Snp.IdAuth.Size})");
        }

        var block = Snp.IdBlock.Parse(idBlockBytes);
        if (!block.LaunchDigest.AsSpan().SequenceEqual(digest))
        {
            throw new SnpFirmwareException(SnpStatus.BadMeasurement, "SNP_LAUNCH_FINISH", $"the ID block's digest {Convert.ToHexStringLower(block.LaunchDigest)} is not the launch digest {Convert.ToHexStringLower(digest)}");
        }

        if (block.Policy != Policy)
        {
            throw new SnpFirmwareException(SnpStatus.PolicyFailure, "SNP_LAUNCH_FINISH", $"the ID block's policy 0x{block.Policy:x} is not the guest's 0x{Policy:x}");
        }

        if (Snp.IdAuth.Verify(idBlockBytes, idAuth, authorKeyEnabled) is { } why)
        {
            throw new SnpFirmwareException(SnpStatus.BadSignature, "SNP_LAUNCH_FINISH", why);
        }

        IdBlock = block;
        AuthorKeyEnabled = authorKeyEnabled;
        IdKeyDigest = Sha384.HashData(Snp.IdAuth.IdKey(idAuth));
        AuthorKeyDigest = authorKeyEnabled ? Sha384.HashData(Snp.IdAuth.AuthorKey(idAuth)) : new byte[48];
    }

    private static string OperationName(SnpPageType type) => type switch
    {
        SnpPageType.Normal => "UPDATE.NORMAL",
        SnpPageType.Vmsa => "UPDATE.VMSA",
        SnpPageType.Zero => "UPDATE.ZERO",
        SnpPageType.Unmeasured => "UPDATE.UNMEAS",
        SnpPageType.Secrets => "UPDATE.SECRETS",
        _ => "UPDATE.CPUID",
    };
}
