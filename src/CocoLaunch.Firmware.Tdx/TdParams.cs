namespace CocoLaunch.Firmware.Tdx;

/// <summary>The TD_PARAMS fields TDH.MNG.INIT takes that matter for attestation. None of them enters MRTD.</summary>
public sealed record TdParams(ulong Attributes, ulong Xfam, byte[] MrConfigId, byte[] MrOwner, byte[] MrOwnerConfig)
{
    public const int MeasurementRegisterSize = 48;

    public static TdParams Default { get; } = new(0x1000_0000, 0x602E7, new byte[48], new byte[48], new byte[48]);
}
