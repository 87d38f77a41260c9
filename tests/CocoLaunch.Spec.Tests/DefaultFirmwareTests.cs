namespace CocoLaunch.Spec.Tests;

/// <summary>A TDX spec with a kernel and no firmware boots under the Linux TD firmware the tool carries.</summary>
public sealed class DefaultFirmwareTests
{
    private const string TdxKernelSpec = "platform: tdx\nkernel: k.bin\nmemory: 256M\n";

    [Fact]
    public void TdxKernelWithoutFirmware_UsesTheLinuxTdFirmware_OrSaysItIsMissing()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "k.bin"), [1, 2, 3]);
            string firmware = Path.Combine(dir, "linux-tdx.fd");
            DefaultFirmware.LinuxTdPath = Path.Combine(dir, "absent.fd");
            var missing = Assert.Throws<SpecException>(() => LaunchSpecParser.Parse(TdxKernelSpec, "s.yaml", dir));
            Assert.Equal("s.yaml:1:11: platform tdx with a kernel and no firmware boots the Linux TD firmware (samples/linux-tdx), which this build does not carry: name a firmware", missing.Message);

            File.WriteAllBytes(firmware, new byte[0x10000]);
            DefaultFirmware.LinuxTdPath = firmware;
            var spec = LaunchSpecParser.Parse(TdxKernelSpec, "s.yaml", dir);
            Assert.Equal(firmware, spec.Firmware.Path);
            Assert.False(spec.IsFirmwareless);
        }
        finally
        {
            DefaultFirmware.LinuxTdPath = null;
            Directory.Delete(dir, recursive: true);
        }
    }
}
