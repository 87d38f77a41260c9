using CocoLaunch.Abi;
using CocoLaunch.Abi.IO;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Igvm;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// A spec's IGVM firmware (<c>firmware: {igvm: FILE}</c>) for validate, measure and launch: the file through the
/// strict reader, then its directives for the spec's platform planned into the spec's memory. Every problem is an
/// input error (exit 2) at the spec's firmware key, naming the header and offset when the file is at fault.
/// </summary>
internal static class IgvmFirmware
{
    public static LaunchContext Context(LaunchSpec spec, bool inPlaceConversion = false, ulong? hostMemoryLimit = null)
    {
        string at = $"{spec.Firmware.Location}: firmware.igvm: ";
        try
        {
            byte[] bytes = InputFile.ReadAllBytes(spec.Firmware.Path, InputFile.BootImageLimit, "IGVM");
            return IgvmSpecLaunch.Context(spec, IgvmFile.Parse(bytes), bytes, inPlaceConversion, hostMemoryLimit);
        }
        catch (InputFileException e)
        {
            throw new CliInputException(at + e.Problem);
        }
        catch (IgvmFormatException e)
        {
            throw new CliInputException($"{at}{Path.GetFileName(spec.Firmware.Path)}: {e.Message}");
        }
        catch (LaunchException e)
        {
            throw new CliInputException($"{at}{Path.GetFileName(spec.Firmware.Path)}: {e.Message}");
        }
    }

    /// <summary>
    /// A TD boots as TDVF does, finding its TD HOB through RCX; IGVM has no header for one, so a file that holds
    /// none (as an unmeasured page beginning with a PHIT HOB, which igvm build packages) cannot be booted here;
    /// nor can one whose HOB describes RAM the spec's memory does not hold.
    /// </summary>
    public static void RequireTdHob(LaunchContext context)
    {
        if (context.Spec.Platform == KvmVmType.Tdx && context.Igvm!.TdHob is null)
        {
            throw new CliInputException($"{context.Spec.Firmware.Location}: firmware.igvm: {Path.GetFileName(context.Spec.Firmware.Path)}: no TD HOB to boot with: "
                + "a TD's vCPUs start with RCX = the TD HOB's GPA, and no unmeasured page of the file begins with a PHIT HOB (type 1, length 56); "
                + "package the HOB as an unmeasured page (igvm build does), or measure the spec without booting it");
        }

        var ram = GuestMemoryLayout.Plan(context.Spec, 0).Where(s => !s.Firmware).Select(s => (s.Gpa.Value, s.End));
        if (context.Igvm?.TdHob is { } hob && IgvmTdHob.Uncovered(context.Igvm, hob, ram) is { } range)
        {
            throw new CliInputException($"{(object?)context.Spec.Memory.Location ?? context.Spec.SourcePath}: memory: the TD HOB in {Path.GetFileName(context.Spec.Firmware.Path)} (at {hob}) "
                + $"describes RAM [0x{range.Start:x},0x{range.End:x}) that this memory does not hold; the HOB was written for the memory of the spec the file was built from: give that memory");
        }
    }

    /// <summary>"snp.igvm (IGVM, 1234 bytes, 40 directives for SEV_SNP)": what validate says of the file.</summary>
    public static string Describe(LaunchContext context)
    {
        var input = context.Igvm!;
        string hob = input.TdHob is { } gpa ? $", TD HOB at {gpa}" : string.Empty;
        return $"{Path.GetFileName(input.Name)} (IGVM, {input.Bytes.Length} bytes, {input.Directives.Count()} directives for {input.Platform.PlatformName}{hob})";
    }
}
