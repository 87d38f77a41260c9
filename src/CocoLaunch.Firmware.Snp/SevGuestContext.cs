using System.Security.Cryptography;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Measurement;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// A legacy SEV / SEV-ES launch in the firmware: LAUNCH_UPDATE_DATA and LAUNCH_UPDATE_VMSA feed one SHA-256
/// stream, whose value is the launch digest (snp-launch-digest.md §7). (LAUNCH_MEASURE's HMAC over it, keyed
/// with the guest owner's TIK, is not modelled.)
/// </summary>
public sealed class SevGuestContext : IDisposable
{
    private readonly IncrementalHash digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private byte[]? final;

    public SevGuestContext(MeasurementLog? log = null) => Log = log ?? new MeasurementLog();

    public MeasurementLog Log { get; }

    public uint? Policy { get; private set; }

    /// <summary>The SHA-256 launch digest, fixed at LAUNCH_MEASURE.</summary>
    public byte[] LaunchDigest => final?.ToArray() ?? throw new SnpFirmwareException(SnpStatus.InvalidGuestState, "LAUNCH_MEASURE", "not measured yet");

    public void LaunchStart(uint policy)
    {
        if (Policy is not null)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidGuestState, "LAUNCH_START", "the guest is already launched");
        }

        Policy = policy;
    }

    /// <summary>LAUNCH_UPDATE_DATA: the bytes are encrypted in place and appended to the digest.</summary>
    public void LaunchUpdateData(Gpa gpa, ReadOnlySpan<byte> data)
    {
        Check("LAUNCH_UPDATE_DATA");
        digest.AppendData(data);
        Log.Append("UPDATE_DATA", gpa, data.Length, data);
    }

    /// <summary>LAUNCH_UPDATE_VMSA (SEV-ES): one vCPU's save area is appended to the digest.</summary>
    public void LaunchUpdateVmsa(int vcpu, ReadOnlySpan<byte> vmsa)
    {
        Check("LAUNCH_UPDATE_VMSA");
        digest.AppendData(vmsa);
        Log.Append("UPDATE_VMSA", new Gpa((ulong)vcpu), vmsa.Length, vmsa);
    }

    /// <summary>LAUNCH_MEASURE: the digest is final.</summary>
    public byte[] LaunchMeasure()
    {
        Check("LAUNCH_MEASURE");
        final = digest.GetHashAndReset();
        return LaunchDigest;
    }

    public void Dispose() => digest.Dispose();

    private void Check(string command)
    {
        if (Policy is null || final is not null)
        {
            throw new SnpFirmwareException(SnpStatus.InvalidGuestState, command, final is null ? "no LAUNCH_START" : "the launch is measured");
        }
    }
}
